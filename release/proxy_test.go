package release

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// A moduleProxy is a directory in the GOPROXY protocol's layout
// (<escaped path>/@v/{list,<version>.info,.mod,.zip}), served to the go
// command as GOPROXY=file://<dir>.
type moduleProxy struct {
	dir string
}

// add puts the module in srcDir on the proxy as mod. The zip holds what the
// module zip of a tag would hold: the files git knows (committed, or new and
// not ignored, so that uncommitted work is tested too), without nested
// modules, vendor directories or symlinks (golang.org/x/mod/zip decides). A
// non-nil goMod replaces the module's go.mod, in the .mod file and the zip.
func (p moduleProxy) add(mod module.Version, srcDir string, goMod []byte) error {
	files, err := moduleFiles(srcDir)
	if err != nil {
		return err
	}
	if goMod == nil {
		if goMod, err = os.ReadFile(filepath.Join(srcDir, "go.mod")); err != nil {
			return err
		}
	}
	for i, f := range files {
		if f.Path() == "go.mod" {
			files[i] = dataFile{path: "go.mod", data: goMod}
		}
	}

	esc, err := module.EscapePath(mod.Path)
	if err != nil {
		return err
	}
	dir := filepath.Join(p.dir, filepath.FromSlash(esc), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var zipBuf bytes.Buffer
	if err := modzip.Create(&zipBuf, mod, files); err != nil {
		return err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{mod.Version, time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return err
	}
	for ext, data := range map[string][]byte{".info": info, ".mod": goMod, ".zip": zipBuf.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, mod.Version+ext), data, 0o644); err != nil {
			return err
		}
	}
	list, err := os.OpenFile(filepath.Join(dir, "list"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(list, mod.Version); err != nil {
		list.Close()
		return err
	}
	return list.Close()
}

// moduleFiles lists the files under dir that git tracks or would track (not
// ignored). Outside a git checkout it falls back to every file under dir, as
// zip.CreateFromDir does.
func moduleFiles(dir string) ([]modzip.File, error) {
	out, err := exec.Command("git", "-C", dir, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return dirFiles(dir)
	}
	var files []modzip.File
	seen := map[string]bool{}
	for _, rel := range strings.Split(string(out), "\x00") {
		if rel == "" || seen[rel] {
			continue
		}
		seen[rel] = true
		abs := filepath.Join(dir, filepath.FromSlash(rel))
		info, err := os.Lstat(abs)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the work tree, not yet committed
		}
		if err != nil {
			return nil, err
		}
		files = append(files, osFile{path: rel, abs: abs, info: info})
	}
	return files, nil
}

func dirFiles(dir string) ([]modzip.File, error) {
	var files []modzip.File
	err := filepath.WalkDir(dir, func(abs string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".run" || d.Name() == ".bin") && abs != dir {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, abs)
		if err != nil {
			return err
		}
		info, err := os.Lstat(abs)
		if err != nil {
			return err
		}
		files = append(files, osFile{path: filepath.ToSlash(rel), abs: abs, info: info})
		return nil
	})
	return files, err
}

type osFile struct {
	path, abs string
	info      fs.FileInfo
}

func (f osFile) Path() string                 { return f.path }
func (f osFile) Lstat() (fs.FileInfo, error)  { return f.info, nil }
func (f osFile) Open() (io.ReadCloser, error) { return os.Open(f.abs) }

type dataFile struct {
	path string
	data []byte
}

func (f dataFile) Path() string                 { return f.path }
func (f dataFile) Lstat() (fs.FileInfo, error)  { return dataInfo(f), nil }
func (f dataFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }

type dataInfo dataFile

func (i dataInfo) Name() string       { return filepath.Base(i.path) }
func (i dataInfo) Size() int64        { return int64(len(i.data)) }
func (i dataInfo) Mode() fs.FileMode  { return 0o644 }
func (i dataInfo) ModTime() time.Time { return time.Time{} }
func (i dataInfo) IsDir() bool        { return false }
func (i dataInfo) Sys() any           { return nil }
