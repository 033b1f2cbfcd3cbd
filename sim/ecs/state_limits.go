package ecs

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// ECS's limits on what a request may hold, as AWS states them.
const (
	maxTags              = 50       // tags per resource
	maxTagKey            = 128      // characters of a tag key
	maxTagValue          = 256      // characters of a tag value
	maxContainers        = 10       // container definitions per task definition
	maxTaskDefinitionLen = 64 << 10 // bytes of a task definition
)

var containerNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,255}$`)

type tag struct {
	Key   *string `json:"key"`
	Value *string `json:"value"`
}

// checkTags checks a request's tags against AWS's tagging limits; the
// message names the member.
func checkTags(raw json.RawMessage) error {
	var tags []tag
	if len(raw) == 0 || json.Unmarshal(raw, &tags) != nil {
		return nil // absent; the types were checked against the model
	}
	if len(tags) > maxTags {
		return fmt.Errorf("tags: a resource can have at most %d tags, not %d.", maxTags, len(tags))
	}
	seen := map[string]bool{}
	for i, t := range tags {
		switch {
		case t.Key == nil || *t.Key == "":
			return fmt.Errorf("tags[%d].key is required.", i)
		case utf8.RuneCountInString(*t.Key) > maxTagKey:
			return fmt.Errorf("tags[%d].key can have at most %d characters.", i, maxTagKey)
		case t.Value != nil && utf8.RuneCountInString(*t.Value) > maxTagValue:
			return fmt.Errorf("tags[%d].value can have at most %d characters.", i, maxTagValue)
		case strings.HasPrefix(strings.ToLower(*t.Key), "aws:"):
			return fmt.Errorf("tags[%d].key: the aws: prefix is reserved for AWS use.", i)
		case seen[*t.Key]:
			return fmt.Errorf("tags[%d].key: tag keys must be unique; %q appears twice.", i, *t.Key)
		}
		seen[*t.Key] = true
	}
	return nil
}
