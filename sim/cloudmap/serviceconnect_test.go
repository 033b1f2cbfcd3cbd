package cloudmap

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sd "github.com/aws/aws-sdk-go-v2/service/servicediscovery"
	"github.com/aws/aws-sdk-go-v2/service/servicediscovery/types"

	"github.com/meshsim/meshsim/sim/awsproto"
)

func TestServiceConnectGoAPI(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	nsID := h.httpNamespace(t, "apps.local")
	ns, err := h.c.GetNamespace(ctx, &sd.GetNamespaceInput{Id: aws.String(nsID)})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"apps.local", nsID, aws.ToString(ns.Namespace.Arn)} {
		name, err := h.fake.NamespaceName(ctx, ref)
		if err != nil || name != "apps.local" {
			t.Errorf("NamespaceName(%s) = %q, %v; want apps.local", ref, name, err)
		}
	}
	_, err = h.fake.NamespaceName(ctx, "nowhere.local")
	wantGoCode(t, err, "NamespaceNotFound")
	_, err = h.fake.ServiceConnectService(ctx, "nowhere.local", "web")
	wantGoCode(t, err, "NamespaceNotFound")
	_, err = h.fake.ServiceConnectService(ctx, "apps.local", "bad name")
	wantGoCode(t, err, "InvalidInput")

	// The service is made once, as an API-only (HTTP) service, then found.
	arn, err := h.fake.ServiceConnectService(ctx, "apps.local", "web")
	if err != nil {
		t.Fatal(err)
	}
	again, err := h.fake.ServiceConnectService(ctx, aws.ToString(ns.Namespace.Arn), "web")
	if err != nil || again != arn {
		t.Errorf("second ServiceConnectService = %s, %v; want %s", again, err, arn)
	}
	list, err := h.c.ListServices(ctx, &sd.ListServicesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Services) != 1 || aws.ToString(list.Services[0].Arn) != arn || list.Services[0].Type != types.ServiceTypeHttp ||
		aws.ToString(list.Services[0].Name) != "web" {
		t.Errorf("services %+v, want one HTTP service web", list.Services)
	}
	if h.register(t, arn, "task-1", map[string]string{AttrIPv4: "127.0.1.1", AttrPort: "8080"}) == "" {
		t.Error("no operation for the registration")
	}
	insts, err := h.fake.Instances("apps.local", "web")
	if err != nil || len(insts) != 1 || insts[0].IPv4 != "127.0.1.1" {
		t.Errorf("instances %+v, %v", insts, err)
	}
}

// wantGoCode checks that err, from the Go API, has Cloud Map's code.
func wantGoCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *awsproto.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Errorf("error %v, want code %s", err, code)
	}
}
