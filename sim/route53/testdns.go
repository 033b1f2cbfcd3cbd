package route53

import (
	"net/http"
	"strings"

	"github.com/miekg/dns"

	"github.com/meshsim/meshsim/sim/awsproto"
)

type testDNSAnswerResponse struct {
	XMLName      xmlNameT `xml:"TestDNSAnswerResponse"`
	Xmlns        string   `xml:"xmlns,attr"`
	Nameserver   string   `xml:"Nameserver"`
	RecordName   string   `xml:"RecordName"`
	RecordType   string   `xml:"RecordType"`
	RecordData   []string `xml:"RecordData>RecordDataEntry"`
	ResponseCode string   `xml:"ResponseCode"`
	Protocol     string   `xml:"Protocol"`
}

// testDNSAnswer answers TestDNSAnswer: what the name servers answer now
// for a record name and type of a hosted zone (a weighted record gives one
// set per call, as a query does).
func (f *Fake) testDNSAnswer(w http.ResponseWriter, r *http.Request, _ []string) {
	q := r.URL.Query()
	zoneID := q.Get("hostedzoneid")
	zoneID = zoneID[strings.LastIndex(zoneID, "/")+1:]
	name, typ := q.Get("recordname"), q.Get("recordtype")
	qtype, ok := dns.StringToType[typ]
	switch {
	case zoneID == "" || name == "" || typ == "":
		writeError(w, awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "TestDNSAnswer needs hostedzoneid, recordname and recordtype"))
		return
	case !ok:
		writeError(w, awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "1 validation error detected: Value '%s' at 'recordType' failed to satisfy constraint: Member must satisfy enum value set: [%s]", typ, strings.Join(recordTypes, ", ")))
		return
	}
	f.mu.Lock()
	z, err := f.zoneByID(zoneID)
	var a Answer
	if err == nil {
		if !inZone(canonical(name), z.name) {
			err = awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "The record name %s is not in hosted zone %s", canonical(name), z.name)
		} else {
			a = f.resolve(canonical(name), qtype, 0)
		}
	}
	f.mu.Unlock()
	if err != nil {
		writeError(w, err)
		return
	}
	resp := testDNSAnswerResponse{Xmlns: xmlns, Nameserver: nameServers[0], RecordName: canonical(name), RecordType: typ,
		RecordData: []string{}, ResponseCode: dns.RcodeToString[a.Rcode], Protocol: "UDP"}
	for _, rr := range a.Records {
		// The record's data: its text form after the header.
		resp.RecordData = append(resp.RecordData, strings.TrimPrefix(rr.String(), rr.Header().String()))
	}
	writeXML(w, http.StatusOK, resp)
}

// updateHostedZoneComment answers UpdateHostedZoneComment.
func (f *Fake) updateHostedZoneComment(w http.ResponseWriter, r *http.Request, segs []string) {
	var req struct {
		Comment string `xml:"Comment"`
	}
	if err := decodeXML(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if len(req.Comment) > 256 {
		writeError(w, awsproto.Errorf(http.StatusBadRequest, "InvalidInput", "1 validation error detected: Value at 'comment' failed to satisfy constraint: Member must have length less than or equal to 256"))
		return
	}
	f.mu.Lock()
	z, err := f.zoneByID(segs[1])
	var hz hostedZoneXML
	if err == nil {
		z.config.Comment = req.Comment
		hz = z.xml()
	}
	f.mu.Unlock()
	if err != nil {
		writeError(w, err)
		return
	}
	writeXML(w, http.StatusOK, struct {
		XMLName    xmlNameT      `xml:"UpdateHostedZoneCommentResponse"`
		Xmlns      string        `xml:"xmlns,attr"`
		HostedZone hostedZoneXML `xml:"HostedZone"`
	}{Xmlns: xmlns, HostedZone: hz})
}
