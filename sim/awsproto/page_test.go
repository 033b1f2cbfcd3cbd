package awsproto

import (
	"slices"
	"strings"
	"testing"
)

func TestPage(t *testing.T) {
	p := Paging{Default: 2, Max: 3, SizeMember: "maxResults", TokenMember: "nextToken", Code: "InvalidParameterException"}
	items := []string{"a", "b", "c", "d", "e"}
	size := func(n int) *int { return &n }
	for _, key := range []func(string) string{Self, nil} {
		var got []string
		token := ""
		for {
			page, next, err := Page(p, items, key, token, nil)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, strings.Join(page, ""))
			if next == "" {
				break
			}
			token = next
		}
		if strings.Join(got, "|") != "ab|cd|e" {
			t.Errorf("keyed %v: pages %v", key != nil, got)
		}
	}
	// A keyed token resumes at its key even when items before it went away.
	_, next, _ := Page(p, items, Self, "", size(3))
	page, _, err := Page(p, []string{"c", "d", "e"}, Self, next, nil)
	if err != nil || !slices.Equal(page, []string{"d", "e"}) {
		t.Errorf("after removals: %v %v", page, err)
	}
	// Empty lists are lists.
	if page, next, err := Page(p, []string(nil), Self, "", nil); page == nil || next != "" || err != nil {
		t.Errorf("empty: %#v %q %v", page, next, err)
	}
	bad := []struct {
		name  string
		key   func(string) string
		token string
		size  *int
		msg   string
	}{
		{"size 0", Self, "", size(0), "maxResults must be between 1 and 3."},
		{"size 4", Self, "", size(4), "maxResults must be between 1 and 3."},
		{"not base64", Self, "!!", nil, `Invalid nextToken "!!".`},
		{"offset token for a keyed list", Self, "IzE", nil, `Invalid nextToken "IzE".`}, // "#1"
		{"keyed token for an offset list", nil, "PWI", nil, `Invalid nextToken "PWI".`}, // "=b"
		{"negative offset", nil, "Iy0x", nil, `Invalid nextToken "Iy0x".`},              // "#-1"
	}
	for _, tt := range bad {
		_, _, err := Page(p, items, tt.key, tt.token, tt.size)
		e, ok := err.(*Error)
		if !ok || e.Code != "InvalidParameterException" || e.Message != tt.msg || e.Status != 400 {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.msg)
		}
	}
}
