package route53

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// xmlns is the namespace of every Route 53 document.
const xmlns = "https://route53.amazonaws.com/doc/2013-04-01/"

// awsTime is how Route 53 writes timestamps (ISO 8601, UTC, milliseconds).
const awsTime = "2006-01-02T15:04:05.000Z"

// The wire shapes, named and nested as Route 53's XML elements are (the
// field names are the element names, as in aws-sdk-go-v2's
// service/route53 deserializers).

type hostedZoneConfig struct {
	Comment     string `xml:"Comment,omitempty"`
	PrivateZone bool   `xml:"PrivateZone"`
}

type vpc struct {
	VPCRegion string `xml:"VPCRegion,omitempty"`
	VPCId     string `xml:"VPCId,omitempty"`
}

type hostedZoneXML struct {
	Id                     string            `xml:"Id"`
	Name                   string            `xml:"Name"`
	CallerReference        string            `xml:"CallerReference"`
	Config                 *hostedZoneConfig `xml:"Config,omitempty"`
	ResourceRecordSetCount int64             `xml:"ResourceRecordSetCount"`
}

type changeInfo struct {
	Id          string `xml:"Id"`
	Status      string `xml:"Status"`
	SubmittedAt string `xml:"SubmittedAt"`
	Comment     string `xml:"Comment,omitempty"`
}

type delegationSet struct {
	NameServers []string `xml:"NameServers>NameServer"`
}

type resourceRecord struct {
	Value string `xml:"Value"`
}

type aliasTarget struct {
	HostedZoneId         string `xml:"HostedZoneId"`
	DNSName              string `xml:"DNSName"`
	EvaluateTargetHealth bool   `xml:"EvaluateTargetHealth"`
}

// recordSet is a resource record set as the API carries it.
type recordSet struct {
	Name            string           `xml:"Name"`
	Type            string           `xml:"Type"`
	SetIdentifier   string           `xml:"SetIdentifier,omitempty"`
	Weight          *int64           `xml:"Weight,omitempty"`
	Failover        string           `xml:"Failover,omitempty"`
	TTL             *int64           `xml:"TTL,omitempty"`
	ResourceRecords []resourceRecord `xml:"ResourceRecords>ResourceRecord,omitempty"`
	AliasTarget     *aliasTarget     `xml:"AliasTarget,omitempty"`
	HealthCheckId   string           `xml:"HealthCheckId,omitempty"`
	// Routing policies meshsim does not serve; a change that sets one is
	// refused rather than silently answered as simple routing.
	Region           string    `xml:"Region,omitempty"`
	GeoLocation      *struct{} `xml:"GeoLocation,omitempty"`
	MultiValueAnswer *bool     `xml:"MultiValueAnswer,omitempty"`
}

type healthCheckConfig struct {
	IPAddress                string `xml:"IPAddress,omitempty"`
	Port                     *int32 `xml:"Port,omitempty"`
	Type                     string `xml:"Type"`
	ResourcePath             string `xml:"ResourcePath,omitempty"`
	FullyQualifiedDomainName string `xml:"FullyQualifiedDomainName,omitempty"`
	SearchString             string `xml:"SearchString,omitempty"`
	RequestInterval          *int32 `xml:"RequestInterval,omitempty"`
	FailureThreshold         *int32 `xml:"FailureThreshold,omitempty"`
	MeasureLatency           *bool  `xml:"MeasureLatency,omitempty"`
	Inverted                 *bool  `xml:"Inverted,omitempty"`
	Disabled                 *bool  `xml:"Disabled,omitempty"`
	EnableSNI                *bool  `xml:"EnableSNI,omitempty"`
}

type healthCheckXML struct {
	Id                 string            `xml:"Id"`
	CallerReference    string            `xml:"CallerReference"`
	HealthCheckConfig  healthCheckConfig `xml:"HealthCheckConfig"`
	HealthCheckVersion int64             `xml:"HealthCheckVersion"`
}

type statusReport struct {
	Status      string `xml:"Status"`
	CheckedTime string `xml:"CheckedTime"`
}

type healthCheckObservation struct {
	Region       string       `xml:"Region"`
	IPAddress    string       `xml:"IPAddress"`
	StatusReport statusReport `xml:"StatusReport"`
}

// Requests.

type createHostedZoneRequest struct {
	Name             string            `xml:"Name"`
	CallerReference  string            `xml:"CallerReference"`
	HostedZoneConfig *hostedZoneConfig `xml:"HostedZoneConfig"`
	VPC              *vpc              `xml:"VPC"`
	DelegationSetId  string            `xml:"DelegationSetId"`
}

type change struct {
	Action            string    `xml:"Action"`
	ResourceRecordSet recordSet `xml:"ResourceRecordSet"`
}

type changeResourceRecordSetsRequest struct {
	ChangeBatch struct {
		Comment string   `xml:"Comment"`
		Changes []change `xml:"Changes>Change"`
	} `xml:"ChangeBatch"`
}

type createHealthCheckRequest struct {
	CallerReference   string             `xml:"CallerReference"`
	HealthCheckConfig *healthCheckConfig `xml:"HealthCheckConfig"`
}

// Responses.

type createHostedZoneResponse struct {
	XMLName       xml.Name       `xml:"CreateHostedZoneResponse"`
	Xmlns         string         `xml:"xmlns,attr"`
	HostedZone    hostedZoneXML  `xml:"HostedZone"`
	ChangeInfo    changeInfo     `xml:"ChangeInfo"`
	DelegationSet *delegationSet `xml:"DelegationSet,omitempty"`
	VPC           *vpc           `xml:"VPC,omitempty"`
}

type getHostedZoneResponse struct {
	XMLName       xml.Name       `xml:"GetHostedZoneResponse"`
	Xmlns         string         `xml:"xmlns,attr"`
	HostedZone    hostedZoneXML  `xml:"HostedZone"`
	DelegationSet *delegationSet `xml:"DelegationSet,omitempty"`
	VPCs          []vpc          `xml:"VPCs>VPC,omitempty"`
}

type listHostedZonesResponse struct {
	XMLName     xml.Name        `xml:"ListHostedZonesResponse"`
	Xmlns       string          `xml:"xmlns,attr"`
	HostedZones []hostedZoneXML `xml:"HostedZones>HostedZone"`
	Marker      string          `xml:"Marker,omitempty"`
	IsTruncated bool            `xml:"IsTruncated"`
	NextMarker  string          `xml:"NextMarker,omitempty"`
	MaxItems    int             `xml:"MaxItems"`
}

type listHostedZonesByNameResponse struct {
	XMLName          xml.Name        `xml:"ListHostedZonesByNameResponse"`
	Xmlns            string          `xml:"xmlns,attr"`
	HostedZones      []hostedZoneXML `xml:"HostedZones>HostedZone"`
	DNSName          string          `xml:"DNSName,omitempty"`
	HostedZoneId     string          `xml:"HostedZoneId,omitempty"`
	IsTruncated      bool            `xml:"IsTruncated"`
	NextDNSName      string          `xml:"NextDNSName,omitempty"`
	NextHostedZoneId string          `xml:"NextHostedZoneId,omitempty"`
	MaxItems         int             `xml:"MaxItems"`
}

type changeInfoResponse struct {
	XMLName    xml.Name
	Xmlns      string     `xml:"xmlns,attr"`
	ChangeInfo changeInfo `xml:"ChangeInfo"`
}

type listResourceRecordSetsResponse struct {
	XMLName              xml.Name    `xml:"ListResourceRecordSetsResponse"`
	Xmlns                string      `xml:"xmlns,attr"`
	ResourceRecordSets   []recordSet `xml:"ResourceRecordSets>ResourceRecordSet"`
	IsTruncated          bool        `xml:"IsTruncated"`
	NextRecordName       string      `xml:"NextRecordName,omitempty"`
	NextRecordType       string      `xml:"NextRecordType,omitempty"`
	NextRecordIdentifier string      `xml:"NextRecordIdentifier,omitempty"`
	MaxItems             int         `xml:"MaxItems"`
}

type healthCheckResponse struct {
	XMLName     xml.Name
	Xmlns       string         `xml:"xmlns,attr"`
	HealthCheck healthCheckXML `xml:"HealthCheck"`
}

type listHealthChecksResponse struct {
	XMLName      xml.Name         `xml:"ListHealthChecksResponse"`
	Xmlns        string           `xml:"xmlns,attr"`
	HealthChecks []healthCheckXML `xml:"HealthChecks>HealthCheck"`
	Marker       string           `xml:"Marker,omitempty"`
	IsTruncated  bool             `xml:"IsTruncated"`
	NextMarker   string           `xml:"NextMarker,omitempty"`
	MaxItems     int              `xml:"MaxItems"`
}

type healthCheckStatusResponse struct {
	XMLName      xml.Name                 `xml:"GetHealthCheckStatusResponse"`
	Xmlns        string                   `xml:"xmlns,attr"`
	Observations []healthCheckObservation `xml:"HealthCheckObservations>HealthCheckObservation"`
}

type emptyResponse struct {
	XMLName xml.Name
	Xmlns   string `xml:"xmlns,attr"`
}

// errorResponse is Route 53's error document (the REST-XML ErrorResponse
// that aws-sdk-go-v2 and botocore both read): the code and message, and
// for InvalidChangeBatch every message of the batch.
type errorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Error   struct {
		Type     string   `xml:"Type"`
		Code     string   `xml:"Code"`
		Message  string   `xml:"Message"`
		Messages []string `xml:"Messages>Message,omitempty"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

// writeXML writes a successful response with status.
func writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		writeError(w, fmt.Errorf("encoding response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", awsproto.RequestID())
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(b)
}

// batchError is an InvalidChangeBatch with each message of the batch.
type batchError struct{ messages []string }

func (e *batchError) Error() string { return "InvalidChangeBatch: " + strings.Join(e.messages, "; ") }

// writeError writes err as Route 53 does, in the ErrorResponse document
// of the Query protocol (awsproto.WriteQueryError): an *awsproto.Error
// gives the status and code, anything else is a 500 InternalFailure. A
// *batchError is an InvalidChangeBatch (400) whose message lists every
// message in brackets, as AWS writes it, and whose Messages element holds
// each (aws-sdk-go-v2's types.InvalidChangeBatch.Messages).
func writeError(w http.ResponseWriter, err error) {
	var be *batchError
	if !errors.As(err, &be) {
		awsproto.WriteQueryError(w, xmlns, err)
		return
	}
	var resp errorResponse
	resp.Xmlns, resp.RequestID = xmlns, awsproto.RequestID()
	resp.Error.Type, resp.Error.Code = "Sender", "InvalidChangeBatch"
	resp.Error.Message = "[" + strings.Join(be.messages, ", ") + "]"
	resp.Error.Messages = be.messages
	b, _ := xml.Marshal(resp)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", resp.RequestID)
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(b)
}

func formatTime(t time.Time) string { return t.UTC().Format(awsTime) }

// xmlNameT is encoding/xml's Name, for root elements named by tags.
type xmlNameT = xml.Name

// xmlName names a response's root element.
func xmlName(local string) xml.Name { return xml.Name{Local: local} }
