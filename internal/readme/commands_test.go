package readme

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README and docs/ tell a reader to type commands. Those that need data
// or hours cannot run in a unit test, but what they name can be checked on a
// fresh clone: every package path given to go run/test/build/doc/vet exists
// and holds Go files, every flag given to a go run program is declared by it,
// and every script (bash X, X.sh, X.py) is in the repository. A renamed
// example, a dropped flag or a moved script then fails here, not in a
// reader's terminal.

// docFiles are the markdown files whose commands are checked, relative to
// the repository root (commands in them are written from the root).
func docFiles(t *testing.T, root string) []string {
	t.Helper()
	files := []string{"README.md"}
	more, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range more {
		rel, _ := filepath.Rel(root, f)
		files = append(files, rel)
	}
	return files
}

var inlineRE = regexp.MustCompile("`([^`\n]+)`")

// commands returns the shell commands of a markdown text: every line of its
// sh (or untagged) code blocks, continuations joined, and every inline code
// span outside code blocks that starts with a command this test knows.
func commands(md string) []string {
	var out, prose []string
	inBlock, shell := false, false
	var cont string
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			if !inBlock {
				lang := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "```"))
				shell = lang == "" || lang == "sh" || lang == "bash" || lang == "shell"
			}
			inBlock = !inBlock
			continue
		}
		if !inBlock {
			prose = append(prose, l)
			continue
		}
		if !shell {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cont += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		if c := cont + l; strings.TrimSpace(c) != "" {
			out = append(out, c)
		}
		cont = ""
	}
	for _, m := range inlineRE.FindAllStringSubmatch(strings.Join(prose, "\n"), -1) {
		s := strings.TrimSpace(m[1])
		for _, p := range []string{"go run ", "go test ", "go build ", "go doc ", "go vet ", "bash ", "python3 ", "LLMREC_", "cd ", "examples/"} {
			if strings.HasPrefix(s, p) {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// stripComment drops a shell comment (a # after a blank).
func stripComment(s string) string {
	if strings.HasPrefix(strings.TrimSpace(s), "#") {
		return ""
	}
	if i := strings.Index(s, " #"); i >= 0 {
		return s[:i]
	}
	return s
}

type cmdProblem struct{ cmd, why string }

// checkCommand checks one command line run from root; it returns what is
// wrong with it.
func checkCommand(root, line string) []cmdProblem {
	var probs []cmdProblem
	bad := func(why string) { probs = append(probs, cmdProblem{line, why}) }
	dir := root
	line = stripComment(line)
	for _, part := range regexp.MustCompile(`&&|;|\|`).Split(line, -1) {
		f := strings.Fields(part)
		// Environment assignments before the command.
		for len(f) > 0 && regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`).MatchString(f[0]) {
			f = f[1:]
		}
		if len(f) == 0 {
			continue
		}
		switch {
		case f[0] == "cd" && len(f) > 1:
			dir = filepath.Join(dir, f[1])
			if !isDir(dir) {
				bad("cd: no directory " + f[1])
			}
		case f[0] == "go" && len(f) > 1 && (f[1] == "run" || f[1] == "test" || f[1] == "build" || f[1] == "doc" || f[1] == "vet"):
			probs = append(probs, checkGo(root, dir, line, f[1], f[2:])...)
		case f[0] == "bash" || f[0] == "python3":
			if len(f) > 1 && !strings.HasPrefix(f[1], "-") {
				checkScript(dir, f[1], bad)
			}
		case strings.HasSuffix(f[0], ".sh") || strings.HasSuffix(f[0], ".py"):
			checkScript(dir, f[0], bad)
		}
	}
	return probs
}

func checkScript(dir, path string, bad func(string)) {
	if strings.HasPrefix(path, "../") || strings.HasPrefix(path, "/") {
		return // outside the repository (the reference, ../shared)
	}
	if _, err := os.Stat(filepath.Join(dir, path)); err != nil {
		bad("no script " + path)
	}
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// goSources returns the non-test Go files of a directory, concatenated.
func goSources(dir string) (string, bool) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	var b strings.Builder
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		b.Write(src)
		n++
	}
	return b.String(), n > 0
}

func checkGo(root, dir, line, verb string, args []string) []cmdProblem {
	var probs []cmdProblem
	bad := func(why string) { probs = append(probs, cmdProblem{line, why}) }
	var runPkg string
	for i, a := range args {
		a = strings.Trim(a, "[]")
		if !(a == "." || strings.HasPrefix(a, "./")) {
			continue
		}
		if i > 0 && strings.HasPrefix(args[i-1], "-") && !strings.Contains(args[i-1], "=") && verb != "run" {
			// the value of a flag such as -o ./bin: not a package
			continue
		}
		p := strings.TrimSuffix(strings.TrimSuffix(a, "/..."), "...")
		pd := filepath.Join(dir, p)
		if _, ok := goSources(pd); !ok && !strings.HasSuffix(a, "...") {
			// a test-only package has only _test.go files
			if tests, _ := filepath.Glob(filepath.Join(pd, "*_test.go")); len(tests) == 0 {
				bad("no Go package " + a)
			}
		} else if !isDir(pd) {
			bad("no directory " + a)
		}
		if verb == "run" && runPkg == "" {
			runPkg = pd
			// Flags after the package belong to the program.
			src, _ := goSources(pd)
			for _, fl := range args[i+1:] {
				fl = strings.Trim(fl, "[]")
				if !strings.HasPrefix(fl, "-") || fl == "-" {
					continue
				}
				name := strings.TrimLeft(fl, "-")
				if j := strings.IndexByte(name, '='); j >= 0 {
					name = name[:j]
				}
				if name == "" || name == "h" {
					continue
				}
				if !strings.Contains(src, `"`+name+`"`) {
					bad("program " + a + " declares no flag -" + name)
				}
			}
			if _, ok := goSources(pd); ok && !strings.Contains(src, "package main") {
				bad(a + " is not a main package")
			}
		}
	}
	if verb == "run" && runPkg == "" {
		bad("go run names no package path")
	}
	return probs
}

func TestDocCommandsExist(t *testing.T) {
	root := filepath.Join("..", "..")
	checked := 0
	for _, name := range docFiles(t, root) {
		md, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range commands(string(md)) {
			checked++
			for _, p := range checkCommand(root, c) {
				t.Errorf("%s: %q: %s", name, p.cmd, p.why)
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d commands found in the README and docs/: the extraction is broken", checked)
	}
}

// A planted mistake of each kind must be reported: the checks can fail.
func TestDocCommandsCatchPlantedMistakes(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, c := range []string{
		"go run ./examples/nosuchexample -data x",
		"go run ./examples/sasrec -nosuchflag 3",
		"go test ./nosuchpkg -run X",
		"go doc ./recpca/nosuch",
		"bash .ci/nosuchscript",
		"examples/sasrec/nosuch.sh a b",
		"cd examples/nosuchmodule && go test ./...",
		"cd examples/annbench && go run . -nosuchflag 1",
		"go run ./tensor",
	} {
		if len(checkCommand(root, c)) == 0 {
			t.Errorf("planted mistake not reported: %q", c)
		}
	}
	for _, c := range []string{
		"go run ./examples/sasrec -data ../shared/data/amazon-beauty -loss bce -seed 42",
		"LLMREC_LONG=1 go test ./recpca -run TestFitStatsBeauty -v",
		"cd examples/annbench && go run . -items 1000000",
		"go test ./... # the test suite",
	} {
		if p := checkCommand(root, c); len(p) != 0 {
			t.Errorf("correct command reported: %q: %v", c, p)
		}
	}
	md := "text `go test ./nn -run X` and\n```sh\ngo run ./examples/x \\\n  -a 1\n```\n"
	got := commands(md)
	if len(got) != 2 || !strings.Contains(got[0], "-a 1") || got[1] != "go test ./nn -run X" {
		t.Errorf("commands(%q) = %q", md, got)
	}
}
