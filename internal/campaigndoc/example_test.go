package campaigndoc_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/cordon-dev/cordon/internal/campaigndoc"
	"github.com/cordon-dev/cordon/internal/cordon"
)

func ExampleParse() {
	doc := `
kind: upgrade
name: Old Android builds
cohort:
  platforms: [android]
  versions: "< 8.5.0"
ramp: {start: 2014-05-27T08:00:00Z, duration: 3d}
upgrade:
  min_version: 8.5.0
  mode: immediate
  urls:
    play: https://play.google.com/store/apps/details?id=com.example
    official: https://m.example.com/download
`
	c, err := campaigndoc.Parse([]byte(doc), campaigndoc.YAML)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Kind, c.State, c.Cohort.Versions, c.Ramp.Duration, c.Upgrade.URLs["official"])
	// Output: upgrade draft < 8.5.0 72h0m0s https://m.example.com/download
}

func ExampleParse_refused() {
	doc := `{"kind": "reauth", "name": "everyone", "ramp": {"start": "2014-05-27T08:00:00Z", "duration": "-5h"}}`
	_, err := campaigndoc.Parse([]byte(doc), campaigndoc.JSON)
	var e *cordon.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Field)
		fmt.Println(e.Message)
	}
	// Output:
	// invalid_field ramp.duration
	// ramp.duration must be positive, not "-5h"
}

func ExampleFormat() {
	c, err := campaigndoc.Parse([]byte(`{"kind":"reauth","name":"May incident","cohort":{"versions":"< 8.5.0"},"ramp":{"start":"2014-05-27T10:00:00+02:00","duration":259200}}`), campaigndoc.JSON)
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := campaigndoc.Format(c)
	if err != nil {
		fmt.Println(err)
		return
	}
	os.Stdout.Write(out)
	// Output:
	// {
	//   "kind": "reauth",
	//   "name": "May incident",
	//   "cohort": {
	//     "versions": "< 8.5.0"
	//   },
	//   "ramp": {
	//     "start": "2014-05-27T08:00:00Z",
	//     "duration": "72h"
	//   }
	// }
}

func ExampleParse_after() {
	doc := `
kind: offline_rekey
name: Re-key offline content once on 8.5
after: {campaign: c-upgrade85}
`
	c, err := campaigndoc.Parse([]byte(doc), campaigndoc.YAML)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.After.Campaign, c.After.Satisfied, c.After.Per)
	// Output: c-upgrade85 true install
}
