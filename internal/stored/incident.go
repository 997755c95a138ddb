package stored

import (
	"strings"

	"github.com/cordon-dev/cordon/internal/cordon"
)

// MaxAboutSubjects bounds one AuditEntriesAbout call.
const MaxAboutSubjects = 1000

// CheckAboutSubjects refuses subjects AuditEntriesAbout does not index:
// none, too many, or one that is not a cordon object.
func CheckAboutSubjects(subjects []string) error {
	if len(subjects) == 0 || len(subjects) > MaxAboutSubjects {
		return cordon.Errorf(cordon.ECodeInvalid, "give 1 to %d subjects, not %d", MaxAboutSubjects, len(subjects))
	}
	for _, s := range subjects {
		if !strings.HasPrefix(s, cordon.ObjectSubjectPrefix) {
			return cordon.Errorf(cordon.ECodeInvalid, "only subjects beginning %q are indexed, not %q", cordon.ObjectSubjectPrefix, s)
		}
	}
	return nil
}

// CheckIncident refuses an incident a store must not keep: no id, or a
// zero time.
func CheckIncident(inc *cordon.Incident) error {
	if inc == nil || inc.ID == "" || inc.AwareAt.IsZero() || inc.CreatedAt.IsZero() {
		return cordon.Errorf(cordon.ECodeInvalid, "an incident needs an id, an aware time and a creation time")
	}
	return nil
}
