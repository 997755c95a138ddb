// Package schema holds the JSON Schema (draft 2020-12) of the campaign
// document, for editors and for validating documents before they are
// posted. The server serves it at /schema/campaign.json; campaigndoc
// remains the authority, and a test holds the two together.
package schema

import (
	"bytes"
	_ "embed"
)

//go:embed campaign.schema.json
var campaign []byte

// ID is the schema's $id.
const ID = "https://cordon.dev/schema/campaign.json"

// Campaign returns the campaign document's JSON Schema.
func Campaign() []byte { return bytes.Clone(campaign) }
