package cloudmap

import (
	"fmt"
	"maps"
	"net/http"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// maxTags is how many tags a Cloud Map resource can have.
const maxTags = 200

// tagMap returns the tags of a create request as a map (nil for none).
func tagMap(tags []tag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

// tagged returns the tags of the namespace or service arn names. f.mu must
// be held.
func (f *Fake) tagged(arn string) (*map[string]string, error) {
	if arn == "" {
		return nil, invalidInput("ResourceARN is required")
	}
	for _, ns := range f.namespaces {
		if ns.arn == arn {
			return &ns.tags, nil
		}
	}
	for _, s := range f.services {
		if s.arn == arn {
			return &s.tags, nil
		}
	}
	return nil, awsproto.Errorf(http.StatusBadRequest, "ResourceNotFoundException", "Resource not found: %s", arn)
}

func (f *Fake) apiListTagsForResource(c *awsproto.Call) (any, error) {
	var in struct {
		ResourceARN string `json:"ResourceARN"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tags, err := f.tagged(in.ResourceARN)
	if err != nil {
		return nil, err
	}
	out := struct {
		Tags []tag `json:"Tags"`
	}{Tags: []tag{}}
	for _, k := range sortedKeys(*tags) {
		out.Tags = append(out.Tags, tag{Key: k, Value: (*tags)[k]})
	}
	return out, nil
}

func (f *Fake) apiTagResource(c *awsproto.Call) (any, error) {
	var in struct {
		ResourceARN string `json:"ResourceARN"`
		Tags        []tag  `json:"Tags"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.Tags == nil {
		return nil, invalidInput("Tags is required")
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tags, err := f.tagged(in.ResourceARN)
	if err != nil {
		return nil, err
	}
	merged := maps.Clone(*tags)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, tagMap(in.Tags))
	if len(merged) > maxTags {
		return nil, &awsproto.Error{Status: http.StatusBadRequest, Code: "TooManyTagsException",
			Message: fmt.Sprintf("the resource would have %d tags; a resource can have at most %d", len(merged), maxTags),
			Extra:   map[string]any{"ResourceName": in.ResourceARN}}
	}
	*tags = merged
	return empty{}, nil
}

func (f *Fake) apiUntagResource(c *awsproto.Call) (any, error) {
	var in struct {
		ResourceARN string   `json:"ResourceARN"`
		TagKeys     []string `json:"TagKeys"`
	}
	if err := c.Decode(&in); err != nil {
		return nil, err
	}
	if in.TagKeys == nil {
		return nil, invalidInput("TagKeys is required")
	}
	if len(in.TagKeys) > maxTags {
		return nil, invalidInput("TagKeys lists %d keys; at most %d", len(in.TagKeys), maxTags)
	}
	for i, k := range in.TagKeys {
		if k == "" || len([]rune(k)) > 128 {
			return nil, invalidInput("TagKeys[%d] must be 1 to 128 characters long", i)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tags, err := f.tagged(in.ResourceARN)
	if err != nil {
		return nil, err
	}
	for _, k := range in.TagKeys {
		delete(*tags, k)
	}
	return empty{}, nil
}
