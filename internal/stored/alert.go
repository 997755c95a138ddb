package stored

import (
	"encoding/json"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// CheckAlert refuses an alert a backend cannot keep.
func CheckAlert(a *cordon.Alert) error {
	if a == nil || a.ID == "" || a.Kind == "" || a.Key == "" || a.CreatedAt.IsZero() {
		return cordon.Errorf(cordon.ECodeInvalid, "an alert needs an id, a kind, a key and a creation time")
	}
	if a.State != cordon.AlertOpen && a.State != cordon.AlertAcknowledged {
		return cordon.Errorf(cordon.ECodeInvalid, "an alert's state is open or acknowledged, not %q", a.State)
	}
	return nil
}

// AlertEvidence encodes an alert's evidence as the backends keep it.
func AlertEvidence(e cordon.AlertEvidence) (string, error) {
	b, err := json.Marshal(e)
	return string(b), err
}

// ParseAlertEvidence decodes what AlertEvidence encoded.
func ParseAlertEvidence(s string) (cordon.AlertEvidence, error) {
	var e cordon.AlertEvidence
	err := json.Unmarshal([]byte(s), &e)
	return e, err
}
