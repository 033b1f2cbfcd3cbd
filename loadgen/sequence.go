package loadgen

// maxGapRanges bounds the runs of lost sequence numbers a sequence
// remembers. A message that arrives after its run was forgotten still
// counts as out of order, but no longer fills its gap.
const maxGapRanges = 4096

// sequence checks the sequence numbers a stream delivers, which should be
// 1, 2, 3, … without repeats. It is not safe for concurrent use.
type sequence struct {
	// next is the sequence number expected next: one above the highest
	// received.
	next uint64
	// gaps are the runs of sequence numbers skipped over and not received
	// since, in increasing order.
	gaps []seqRange
}

type seqRange struct{ from, to uint64 }

// seqResult is what one message told about its stream.
type seqResult struct {
	// lost counts the sequence numbers the message skipped over, from
	// gapFrom to gapTo.
	lost, gapFrom, gapTo uint64
	// duplicate: the sequence number had been received already.
	duplicate bool
	// outOfOrder: the message arrived after a higher sequence number.
	// filled says whether it filled a gap counted as lost before.
	outOfOrder, filled bool
}

func newSequence() *sequence { return &sequence{next: 1} }

// last is the highest sequence number received (0 before any).
func (s *sequence) last() uint64 { return s.next - 1 }

// observe checks one received sequence number.
func (s *sequence) observe(seq uint64) seqResult {
	switch {
	case seq == s.next:
		s.next++
		return seqResult{}
	case seq > s.next:
		r := seqResult{lost: seq - s.next, gapFrom: s.next, gapTo: seq - 1}
		s.gaps = append(s.gaps, seqRange{s.next, seq - 1})
		if len(s.gaps) > maxGapRanges {
			s.gaps = s.gaps[len(s.gaps)-maxGapRanges:]
		}
		s.next = seq + 1
		return r
	case seq == 0:
		return seqResult{duplicate: true} // never sent: the numbers start at 1
	}
	// A number below next: either one of a gap, arriving late, or a repeat.
	for i, g := range s.gaps {
		if seq < g.from || seq > g.to {
			continue
		}
		switch {
		case g.from == g.to:
			s.gaps = append(s.gaps[:i], s.gaps[i+1:]...)
		case seq == g.from:
			s.gaps[i].from++
		case seq == g.to:
			s.gaps[i].to--
		default:
			s.gaps = append(s.gaps[:i+1], s.gaps[i:]...)
			s.gaps[i].to = seq - 1
			s.gaps[i+1].from = seq + 1
		}
		return seqResult{outOfOrder: true, filled: true}
	}
	if len(s.gaps) == maxGapRanges && seq < s.gaps[0].from {
		return seqResult{outOfOrder: true} // its gap may have been forgotten
	}
	return seqResult{duplicate: true}
}
