package awsproto

import (
	"encoding/base64"
	"net/http"
	"sort"
	"strconv"
)

// Paging describes how an API pages its List operations: the page size a
// request gets when it asks for none, the largest it may ask for, the names
// of the request members (for messages) and the error code of a bad value.
//
//	var ecsPaging = awsproto.Paging{Default: 100, Max: 100, SizeMember: "maxResults",
//		TokenMember: "nextToken", Code: "InvalidParameterException"}
//	page, next, err := awsproto.Page(ecsPaging, arns, awsproto.Self, in.NextToken, in.MaxResults)
type Paging struct {
	// Default is the page size of a request that gives none; Max the
	// largest it may give (at least 1).
	Default, Max int
	// SizeMember and TokenMember name the request members ("maxResults",
	// "MaxResults", "limit"; "nextToken", "NextToken").
	SizeMember, TokenMember string
	// Code is the error code of a size out of range or a token this fake
	// did not hand out.
	Code string
}

// Page returns the page of items that token starts (the first page when
// token is empty), of at most *size items (Default when size is nil), and
// the token of the next page, empty on the last one. The page is never nil
// (it encodes as a JSON list).
//
// With a key, items must be sorted by it, with distinct keys, and a token is
// the key of the first item of its page (opaque to clients): a page starts
// where it should even when items were added or removed since the previous
// page, as AWS's tokens do. With a nil key (items in an order no key
// follows, such as newest first), a token is an offset.
func Page[T any](p Paging, items []T, key func(T) string, token string, size *int) ([]T, string, error) {
	n := p.Default
	if size != nil {
		if *size < 1 || *size > p.Max {
			return nil, "", Errorf(http.StatusBadRequest, p.Code, "%s must be between 1 and %d.", p.SizeMember, p.Max)
		}
		n = *size
	}
	from, err := pageStart(p, items, key, token)
	if err != nil {
		return nil, "", err
	}
	to := min(from+n, len(items))
	next := ""
	if to < len(items) {
		k := "#" + strconv.Itoa(to)
		if key != nil {
			k = "=" + key(items[to])
		}
		next = base64.RawURLEncoding.EncodeToString([]byte(k))
	}
	if from >= to {
		return []T{}, next, nil // an empty list, never null
	}
	return items[from:to:to], next, nil
}

// pageStart returns the index of the first item of the page that token
// starts: "=KEY" (the first item whose key is at least KEY) or "#OFFSET".
func pageStart[T any](p Paging, items []T, key func(T) string, token string) (int, error) {
	if token == "" {
		return 0, nil
	}
	invalid := Errorf(http.StatusBadRequest, p.Code, "Invalid %s %q.", p.TokenMember, token)
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) == 0 {
		return 0, invalid
	}
	switch kind, rest := b[0], string(b[1:]); {
	case kind == '=' && key != nil:
		return sort.Search(len(items), func(i int) bool { return key(items[i]) >= rest }), nil
	case kind == '#' && key == nil:
		off, err := strconv.Atoi(rest)
		if err != nil || off < 0 {
			return 0, invalid
		}
		return min(off, len(items)), nil
	}
	return 0, invalid
}

// Self is the key of a string that is its own key, for Page over sorted
// names or ARNs.
func Self(s string) string { return s }
