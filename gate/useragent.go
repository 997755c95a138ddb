package gate

import "strings"

// sendsCordonClient reports whether a request's Cordon-Client lines hold
// anything: an app that speaks cordon, whose word is taken over what its
// user agent suggests. Cordon-Client > user-agent rules > unknown.
func sendsCordonClient(lines []string) bool {
	for _, l := range lines {
		if strings.Trim(l, " \t") != "" {
			return true
		}
	}
	return false
}
