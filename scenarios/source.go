package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// This file turns the bytes of a scenario file into one YAML document,
// with every problem at its line and column.

// MaxScenarioSize is the largest scenario file meshsim reads (1 MiB); a
// larger one is refused before it is parsed.
const MaxScenarioSize = 1 << 20

// LoadFile reads and parses the scenario file at path. It reads at most
// MaxScenarioSize bytes (and one more, to tell that the file is larger).
func LoadFile(path string) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading scenario: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxScenarioSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading scenario %s: %w", path, err)
	}
	return Parse(path, data)
}

// document parses data, the content of file, as exactly one YAML document
// and returns its root node, or the problem at its place.
func document(file string, data []byte) (*yaml.Node, *Error) {
	at := func(offset int, format string, args ...any) *Error {
		line, col := runePos(data, offset)
		return &Error{Pos: Pos{File: file, Line: line, Column: col}, Msg: fmt.Sprintf(format, args...)}
	}
	if len(data) > MaxScenarioSize {
		return nil, at(MaxScenarioSize, "the scenario file is larger than %d MiB, the most meshsim reads", MaxScenarioSize>>20)
	}
	if i := invalidUTF8(data); i >= 0 {
		return nil, at(i, "byte 0x%02x is not UTF-8: a scenario file is UTF-8 text", data[i])
	}
	root, next, err := decodeDocuments(data)
	switch {
	case err != nil:
		return nil, yamlError(file, data, err)
	case root.Kind != yaml.DocumentNode || emptyDocument(root):
		return nil, at(0, "empty scenario file")
	case next != nil && !emptyDocument(next):
		return nil, at(documentStart(data, *next), "a second YAML document: a scenario file holds one (remove the --- and what follows, or put it in a file of its own)")
	}
	return root, nil
}

// decodeDocuments decodes the first YAML document of data and, when there
// is one, the second.
func decodeDocuments(data []byte) (first, second *yaml.Node, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	first = &yaml.Node{}
	if err := dec.Decode(first); err != nil {
		if errors.Is(err, io.EOF) {
			return first, nil, nil
		}
		return nil, nil, err
	}
	second = &yaml.Node{}
	if err := dec.Decode(second); err != nil {
		if errors.Is(err, io.EOF) {
			return first, nil, nil
		}
		return nil, nil, err
	}
	return first, second, nil
}

// invalidUTF8 returns the offset of the first byte of data that is not
// UTF-8, or -1.
func invalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return -1
}

// documentStart returns the offset of the "---" that starts the document
// whose first node is doc, or of the node when no marker precedes it.
func documentStart(data []byte, doc yaml.Node) int {
	line := doc.Line
	if len(doc.Content) > 0 {
		line = doc.Content[0].Line
	}
	node := lineOffset(data, line)
	if i := bytes.LastIndex(data[:min(len(data), node+3)], []byte("---")); i >= 0 {
		return i
	}
	return node
}

// lineOffset returns the offset of the first byte of line (1-based) in
// data, with lines broken as runePos breaks them.
func lineOffset(data []byte, line int) int {
	for i, l := 0, 1; i < len(data); {
		if l >= line {
			return i
		}
		r, size := utf8.DecodeRune(data[i:])
		i += size
		switch r {
		case '\r':
			if i < len(data) && data[i] == '\n' {
				i++
			}
			l++
		case '\n', '\u0085', '\u2028', '\u2029':
			l++
		}
	}
	return len(data)
}

// runePos returns the 1-based line and column of the byte at offset in
// data, counted as yaml.v3 counts them: columns in characters, and lines
// broken by LF, CR, CR LF, NEL, LS and PS.
func runePos(data []byte, offset int) (line, col int) {
	offset = min(max(offset, 0), len(data))
	line, col = 1, 1
	for i := 0; i < offset; {
		r, size := utf8.DecodeRune(data[i:])
		i += size
		switch r {
		case '\r':
			if i < len(data) && data[i] == '\n' {
				if i == offset { // between CR and LF: still on the line
					return line, col + 1
				}
				i++
			}
			line, col = line+1, 1
		case '\n', '\u0085', '\u2028', '\u2029':
			line, col = line+1, 1
		default:
			col++
		}
	}
	return line, col
}

// yamlMessage splits yaml.v3's error text into its problem.
var yamlMessage = regexp.MustCompile(`^yaml: (?:line \d+: )?(.*)$`)

// yamlError places a yaml.v3 syntax error. yaml.v3 names a line only (and
// for some problems the line where the construct around the problem
// began, counted from 0), so the place is found again: the problem is
// where the shortest prefix of data that fails as the whole does ends.
// yaml.v3 reads a prefix as it reads the whole until the prefix ends, so
// a prefix fails the same way exactly when it reaches the problem.
func yamlError(file string, data []byte, err error) *Error {
	msg := err.Error()
	problem := msg
	if m := yamlMessage.FindStringSubmatch(msg); m != nil {
		problem = m[1]
	}
	fails := func(n int) bool {
		_, _, e := decodeDocuments(data[:n])
		return e != nil && e.Error() == msg
	}
	lo, hi := 0, len(data) // fails(hi) holds; find the smallest such n
	if !fails(hi) {
		lo = hi
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	offset := max(hi-1, 0) // the last byte read is the problem's
	for offset > 0 && !utf8.RuneStart(data[offset]) {
		offset--
	}
	line, col := runePos(data, offset)
	return &Error{Pos: Pos{File: file, Line: line, Column: col}, Msg: "YAML syntax: " + strings.TrimSpace(problem)}
}

// emptyDocument reports whether doc holds nothing (as a "---" at the end
// of a file starts).
func emptyDocument(doc *yaml.Node) bool {
	if len(doc.Content) == 0 {
		return true
	}
	for _, n := range doc.Content {
		if n.Kind != yaml.ScalarNode || n.Tag != "!!null" || n.Value != "" {
			return false
		}
	}
	return true
}
