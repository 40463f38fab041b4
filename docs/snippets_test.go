package docs

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goBlock is a fenced Go block of a Markdown file.
var goBlock = regexp.MustCompile("(?ms)^```go\n(.*?)^```\n")

// TestSnippets builds every Go snippet of README.md and docs/*.md against
// the modules of this workspace, and runs the ones that are tests.
func TestSnippets(t *testing.T) {
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../README.md")
	n := 0
	for _, f := range files {
		md, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range goBlock.FindAllSubmatch(md, -1) {
			src := string(m[1])
			name := strings.TrimSuffix(filepath.Base(f), ".md") + "-" + string(rune('a'+i))
			n++
			t.Run(name, func(t *testing.T) {
				if !strings.HasPrefix(src, "package ") {
					t.Fatalf("%s: snippet %d is not a complete file (it must start with a package clause):\n%s", f, i+1, src)
				}
				dir := t.TempDir()
				file, args := "main.go", []string{"build", "-o", os.DevNull}
				if strings.Contains(src, "\nfunc Test") {
					file, args = "snippet_test.go", []string{"test", "-count=1"}
				}
				path := filepath.Join(dir, file)
				if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command("go", append(args, path)...)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%s: snippet %d:\n%s\n%s", f, i+1, out, src)
				}
			})
		}
	}
	if n < 10 {
		t.Fatalf("found %d snippets: the pattern or the files moved", n)
	}
}
