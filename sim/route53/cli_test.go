package route53

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestAWSCLI drives the fake with the AWS CLI (botocore's REST-XML
// parser): a hosted zone, a weighted change batch, the listing, the
// change's status, an InvalidChangeBatch error and a health check.
func TestAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("the AWS CLI takes about a second per command")
	}
	cli, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("the AWS CLI (aws) is not installed")
	}
	h := newHarness(t, Options{Propagation: -1})
	run := func(wantErr bool, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, cli, append(args, "--endpoint-url", h.url, "--output", "json")...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=meshsim", "AWS_SECRET_ACCESS_KEY=meshsim", "AWS_DEFAULT_REGION=us-east-1",
			"AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
		out, err := cmd.CombinedOutput()
		if (err != nil) != wantErr {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	var zone struct {
		HostedZone struct{ Id, Name string }
		ChangeInfo struct{ Status string }
	}
	decode(t, run(false, "route53", "create-hosted-zone", "--name", "example.test", "--caller-reference", "cli-1"), &zone)
	if !strings.HasPrefix(zone.HostedZone.Id, "/hostedzone/Z") || zone.HostedZone.Name != "example.test." || zone.ChangeInfo.Status != "INSYNC" {
		t.Fatalf("create-hosted-zone = %+v", zone)
	}
	batch := `{"Changes":[
		{"Action":"CREATE","ResourceRecordSet":{"Name":"app.example.test","Type":"A","SetIdentifier":"blue","Weight":90,"TTL":60,"ResourceRecords":[{"Value":"127.0.0.2"}]}},
		{"Action":"CREATE","ResourceRecordSet":{"Name":"app.example.test","Type":"A","SetIdentifier":"green","Weight":10,"TTL":60,"ResourceRecords":[{"Value":"127.0.0.3"}]}}]}`
	var changed struct{ ChangeInfo struct{ Id, Status string } }
	decode(t, run(false, "route53", "change-resource-record-sets", "--hosted-zone-id", zone.HostedZone.Id, "--change-batch", batch), &changed)
	if !strings.HasPrefix(changed.ChangeInfo.Id, "/change/C") {
		t.Fatalf("change-resource-record-sets = %+v", changed)
	}
	var got struct{ ChangeInfo struct{ Status string } }
	decode(t, run(false, "route53", "get-change", "--id", changed.ChangeInfo.Id), &got)
	if got.ChangeInfo.Status != "INSYNC" {
		t.Errorf("get-change = %+v, want INSYNC", got)
	}
	var list struct {
		ResourceRecordSets []struct {
			Name, Type, SetIdentifier string
			Weight, TTL               int
		}
	}
	decode(t, run(false, "route53", "list-resource-record-sets", "--hosted-zone-id", zone.HostedZone.Id), &list)
	if len(list.ResourceRecordSets) != 4 || list.ResourceRecordSets[2].SetIdentifier != "blue" || list.ResourceRecordSets[2].Weight != 90 || list.ResourceRecordSets[3].TTL != 60 {
		t.Errorf("list-resource-record-sets = %+v", list)
	}
	out := run(true, "route53", "change-resource-record-sets", "--hosted-zone-id", zone.HostedZone.Id, "--change-batch", batch)
	if !strings.Contains(out, "(InvalidChangeBatch)") || !strings.Contains(out, "but it already exists") {
		t.Errorf("a repeated CREATE: %s, want InvalidChangeBatch ... already exists", out)
	}
	var hc struct{ HealthCheck struct{ Id string } }
	decode(t, run(false, "route53", "create-health-check", "--caller-reference", "cli-hc", "--health-check-config",
		"Type=TCP,IPAddress=127.0.0.1,Port=9,RequestInterval=10,FailureThreshold=1"), &hc)
	if hc.HealthCheck.Id == "" {
		t.Errorf("create-health-check gave no id")
	}
}

func decode(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("the AWS CLI printed %q: %v", out, err)
	}
}
