package appmesh

import (
	"net/http"
	"slices"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// maxTags is how many tags an App Mesh resource can have.
const maxTags = 50

// taggedResource returns the tags of the resource c's resourceArn query
// parameter names. f.mu must be held.
func (f *Fake) taggedResource(c call) (string, []TagRef, error) {
	arn := c.Query.Get("resourceArn")
	if arn == "" {
		return "", nil, badRequest("1 validation error detected: resourceArn: is required")
	}
	tags, ok := f.tags[arn]
	if !ok {
		return "", nil, notFound("The resource %s was not found", arn)
	}
	return arn, tags, nil
}

func (f *Fake) listTagsForResource(c call) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, tags, err := f.taggedResource(c)
	if err != nil {
		return nil, err
	}
	sorted := slices.Clone(tags)
	byKey := make(map[string]*TagRef, len(sorted))
	for i := range sorted {
		byKey[sorted[i].Key] = &sorted[i]
	}
	return listOf(c, "tags", byKey, func(t *TagRef) TagRef { return *t })
}

func (f *Fake) tagResource(c call) (any, error) {
	var in struct {
		Tags []TagRef `json:"tags"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	v := &checker{}
	v.required("tags", in.Tags != nil)
	v.tags(in.Tags)
	if err := v.err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	arn, tags, err := f.taggedResource(c)
	if err != nil {
		return nil, err
	}
	merged := slices.Clone(tags)
	for _, t := range in.Tags {
		i := slices.IndexFunc(merged, func(o TagRef) bool { return o.Key == t.Key })
		if i >= 0 {
			merged[i].Value = t.Value
		} else {
			merged = append(merged, t)
		}
	}
	if len(merged) > maxTags {
		return nil, awsproto.Errorf(http.StatusBadRequest, "TooManyTagsException",
			"the resource would have %d tags; a resource can have at most %d", len(merged), maxTags)
	}
	f.tags[arn] = merged
	return struct{}{}, nil
}

func (f *Fake) untagResource(c call) (any, error) {
	var in struct {
		TagKeys []string `json:"tagKeys"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	v := &checker{}
	v.required("tagKeys", in.TagKeys != nil)
	listSize(v, "tagKeys", in.TagKeys, 0, maxTags)
	for i, k := range in.TagKeys {
		v.length(item("tagKeys", i), k, 1, 128)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	arn, tags, err := f.taggedResource(c)
	if err != nil {
		return nil, err
	}
	f.tags[arn] = slices.DeleteFunc(slices.Clone(tags), func(t TagRef) bool { return slices.Contains(in.TagKeys, t.Key) })
	return struct{}{}, nil
}
