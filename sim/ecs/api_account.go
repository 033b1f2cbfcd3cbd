package ecs

import (
	"slices"
	"strings"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// This file holds account settings: PutAccountSetting,
// PutAccountSettingDefault, DeleteAccountSetting, ListAccountSettings.
// The account's root is the principal of a request that names none, and
// its settings are the account's defaults. containerInsights is the
// default of new clusters' containerInsights setting; the ARN formats are
// always long (the only format ECS still creates); the others are kept
// and reported.

// accountSettingValues are the settings ECS knows, with the values each
// takes; the first is AWS's default.
var accountSettingValues = map[string][]string{
	"serviceLongArnFormat":            {"enabled", "disabled"},
	"taskLongArnFormat":               {"enabled", "disabled"},
	"containerInstanceLongArnFormat":  {"enabled", "disabled"},
	"awsvpcTrunking":                  {"disabled", "enabled"},
	"containerInsights":               {"disabled", "enabled", "enhanced"},
	"dualStackIPv6":                   {"disabled", "enabled"},
	"fargateFIPSMode":                 {"disabled", "enabled"},
	"fargateTaskRetirementWaitPeriod": {"7", "0", "14"},
	"tagResourceAuthorization":        {"on", "off"},
	"guardDutyActivate":               {"off", "on"},
	"defaultLogDriverMode":            {"blocking", "non-blocking"},
}

// defaultOnly are the settings only PutAccountSettingDefault changes.
var defaultOnly = []string{"fargateFIPSMode", "fargateTaskRetirementWaitPeriod", "guardDutyActivate"}

// rootPrincipal is the account's root user.
var rootPrincipal = "arn:aws:iam::" + awsproto.Account + ":root"

type accountSetting struct {
	Name         string `json:"name"`
	Value        string `json:"value"`
	PrincipalArn string `json:"principalArn"`
	Type         string `json:"type"`
}

type accountSettingInput struct {
	Name              string `json:"name"`
	Value             string `json:"value"`
	PrincipalArn      string `json:"principalArn"`
	EffectiveSettings bool   `json:"effectiveSettings"`
	NextToken         string `json:"nextToken"`
	MaxResults        *int   `json:"maxResults"`
}

// checkSetting checks a setting's name and value.
func checkSetting(name, value string) error {
	values, ok := accountSettingValues[name]
	switch {
	case !ok:
		return invalidParameter("name %q is not an account setting.", name)
	case !slices.Contains(values, value):
		return invalidParameter("The value %q is not valid for %s: use %s.", value, name, strings.Join(values, ", "))
	}
	return nil
}

// principal returns the principal a request names, the root by default.
func principal(arn string) (string, error) {
	if arn == "" {
		return rootPrincipal, nil
	}
	if !strings.HasPrefix(arn, "arn:aws:iam::") {
		return "", invalidParameter("principalArn %q is not an IAM user, role or root ARN.", arn)
	}
	return arn, nil
}

func (f *Fake) putAccountSetting(region string, in *accountSettingInput) (any, error) {
	if err := checkSetting(in.Name, in.Value); err != nil {
		return nil, err
	}
	if slices.Contains(defaultOnly, in.Name) {
		return nil, invalidParameter("%s can only be changed for the account, with PutAccountSettingDefault.", in.Name)
	}
	p, err := principal(in.PrincipalArn)
	if err != nil {
		return nil, err
	}
	return f.setAccountSetting(region, p, in.Name, in.Value), nil
}

func (f *Fake) putAccountSettingDefault(region string, in *accountSettingInput) (any, error) {
	if err := checkSetting(in.Name, in.Value); err != nil {
		return nil, err
	}
	if in.Name == "guardDutyActivate" {
		return nil, invalidParameter("guardDutyActivate is managed by Amazon GuardDuty; it cannot be changed here.")
	}
	return f.setAccountSetting(region, rootPrincipal, in.Name, in.Value), nil
}

// setAccountSetting sets a setting of principal p in region.
func (f *Fake) setAccountSetting(region, p, name, value string) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := region + "/" + p
	if f.accountSettings[key] == nil {
		f.accountSettings[key] = map[string]string{}
	}
	f.accountSettings[key][name] = value
	return map[string]any{"setting": accountSetting{Name: name, Value: value, PrincipalArn: p, Type: "user"}}
}

func (f *Fake) deleteAccountSetting(region string, in *accountSettingInput) (any, error) {
	if _, ok := accountSettingValues[in.Name]; !ok {
		return nil, invalidParameter("name %q is not an account setting.", in.Name)
	}
	p, err := principal(in.PrincipalArn)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	value, ok := f.accountSettings[region+"/"+p][in.Name]
	if !ok {
		return nil, invalidParameter("The %s setting is not set for %s.", in.Name, p)
	}
	delete(f.accountSettings[region+"/"+p], in.Name)
	return map[string]any{"setting": accountSetting{Name: in.Name, Value: value, PrincipalArn: p, Type: "user"}}, nil
}

func (f *Fake) listAccountSettings(region string, in *accountSettingInput) (any, error) {
	if in.Name != "" {
		if _, ok := accountSettingValues[in.Name]; !ok {
			return nil, invalidParameter("name %q is not an account setting.", in.Name)
		}
	}
	if in.Value != "" && in.Name == "" {
		return nil, invalidParameter("value requires name.")
	}
	p, err := principal(in.PrincipalArn)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	var list []accountSetting
	for name := range accountSettingValues {
		if in.Name != "" && name != in.Name {
			continue
		}
		s, ok := f.accountSetting(region, p, name, in.EffectiveSettings)
		if ok && (in.Value == "" || s.Value == in.Value) {
			list = append(list, s)
		}
	}
	f.mu.Unlock()
	slices.SortFunc(list, func(a, b accountSetting) int { return strings.Compare(a.Name, b.Name) })
	page, next, err := awsproto.Page(paging(10), list, func(s accountSetting) string { return s.Name }, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"settings": page}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

// accountSetting returns setting name of principal p: its own; with
// effective, else the account's, else AWS's default. Callers hold f.mu.
func (f *Fake) accountSetting(region, p, name string, effective bool) (accountSetting, bool) {
	if v, ok := f.accountSettings[region+"/"+p][name]; ok {
		return accountSetting{Name: name, Value: v, PrincipalArn: p, Type: "user"}, true
	}
	if !effective {
		return accountSetting{}, false
	}
	if v, ok := f.accountSettings[region+"/"+rootPrincipal][name]; ok {
		return accountSetting{Name: name, Value: v, PrincipalArn: p, Type: "user"}, true
	}
	return accountSetting{Name: name, Value: accountSettingValues[name][0], PrincipalArn: p, Type: "aws_managed"}, true
}
