package readmetest

import (
	"strings"
	"testing"
)

func TestShellBlocks(t *testing.T) {
	doc := "# x\n```sh\necho one\n```\n\n```go\nfmt.Println()\n```\n" +
		"<!-- readme-test: skip needs Docker -->\n```sh\ndocker run x\n```\n" +
		"````sh\necho '```'\n````\n" +
		"```yaml\n# c.yaml\nkind: reauth\n```\n```yaml\n# an illustration\nkind: x\n```\n"
	blocks, err := shellBlocks([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 4 {
		t.Fatalf("blocks = %+v, want 3 shell blocks and a file", blocks)
	}
	if blocks[3].file != "c.yaml" || blocks[3].code != "# c.yaml\nkind: reauth\n" {
		t.Errorf("file block = %+v", blocks[3])
	}
	if blocks[0].code != "echo one\n" || blocks[0].line != 2 || blocks[0].skip != "" {
		t.Errorf("first block = %+v", blocks[0])
	}
	if blocks[1].skip != "needs Docker" || blocks[1].code != "docker run x\n" {
		t.Errorf("skipped block = %+v", blocks[1])
	}
	if blocks[2].code != "echo '```'\n" {
		t.Errorf("a longer fence holds a shorter one: %+v", blocks[2])
	}
	s := script(blocks)
	if strings.Contains(s, "docker") || !strings.Contains(s, "README_LINE=2\necho one\n") ||
		!strings.Contains(s, "cat > c.yaml <<'README_FILE_END'\n# c.yaml\nkind: reauth\nREADME_FILE_END\n") || strings.Contains(s, "kind: x") {
		t.Errorf("script:\n%s", s)
	}
	for _, bad := range []string{
		"<!-- readme-test: skip -->\n```sh\nx\n```\n",
		"```sh\nnever closed\n",
	} {
		if _, err := shellBlocks([]byte(bad)); err == nil {
			t.Errorf("shellBlocks(%q) accepted it", bad)
		}
	}
}
