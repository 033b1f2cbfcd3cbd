package ecs

import "github.com/meshsim/meshsim/sim/awsproto"

// This file pages List responses with awsproto.Page, as ECS does
// (maxResults 1 to 100, an opaque nextToken).

// listResult returns the List* response holding, under member, the page
// of arns (sorted) after token, of at most maxResults (def when absent, at
// most 100), and the token of the next page.
func listResult(member string, arns []string, token string, maxResults *int, def int) (map[string]any, error) {
	page, next, err := awsproto.Page(paging(def), arns, awsproto.Self, token, maxResults)
	return pageResult(member, page, next), err
}

// paging is how ECS pages a List operation whose default page size is def.
func paging(def int) awsproto.Paging {
	return awsproto.Paging{Default: def, Max: 100, SizeMember: "maxResults", TokenMember: "nextToken", Code: codeInvalidParameter}
}

// pageResult is a List* response: the page under member, and nextToken
// unless it is the last page.
func pageResult(member string, page []string, next string) map[string]any {
	out := map[string]any{member: page}
	if next != "" {
		out["nextToken"] = next
	}
	return out
}
