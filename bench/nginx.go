package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// peerNginx is the static-file peer of 'bench origin -peer nginx'.
const peerNginx = "nginx"

// errNoNginx reports that nginx is not installed.
var errNoNginx = errors.New("nginx not found (apt-get install -y nginx); skipping the nginx peer")

// nginxBin finds nginx on PATH or at Debian's /usr/sbin/nginx.
func nginxBin() (string, error) {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	if st, err := os.Stat("/usr/sbin/nginx"); err == nil && !st.IsDir() {
		return "/usr/sbin/nginx", nil
	}
	return "", errNoNginx
}

// nginxPeer is a harness-started nginx serving a directory on loopback.
type nginxPeer struct {
	dir     string // prefix: config, logs, temp dirs, root/
	root    string
	addr    string
	version string
	c       *child
}

// nginxConf is a minimal configuration: the foreground master with one
// worker per core (nginx's usual deployment), no access log, sendfile,
// keep-alive without a request limit, every path inside dir.
const nginxConf = `daemon off;
master_process on;
worker_processes auto;
pid {{dir}}/nginx.pid;
error_log {{dir}}/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 120s;
    keepalive_requests 1000000;
    types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; video/mp4 mp4 m4s; }
    default_type application/octet-stream;
    client_body_temp_path {{dir}}/tmp/body;
    proxy_temp_path {{dir}}/tmp/proxy;
    fastcgi_temp_path {{dir}}/tmp/fastcgi;
    uwsgi_temp_path {{dir}}/tmp/uwsgi;
    scgi_temp_path {{dir}}/tmp/scgi;
    server {
        listen {{addr}};
        root {{dir}}/root;
        location / { }
    }
}
`

// newNginxDir prepares the prefix directory (readable by nginx's workers,
// which drop to an unprivileged user when the harness runs as root).
func newNginxDir() (string, error) {
	dir, err := os.MkdirTemp("", "pullpush-bench-nginx-")
	if err != nil {
		return "", err
	}
	for _, d := range []string{dir, filepath.Join(dir, "root"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// startNginx starts nginx on a free loopback port serving dir/root.
func startNginx(ctx context.Context, dir string) (*nginxPeer, error) {
	bin, err := nginxBin()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	n := &nginxPeer{dir: dir, root: filepath.Join(dir, "root"), addr: fmt.Sprintf("127.0.0.1:%d", port)}
	conf := strings.NewReplacer("{{dir}}", dir, "{{addr}}", n.addr).Replace(nginxConf)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, bin, "-v").CombinedOutput(); err == nil {
		n.version = strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version: ")
	}
	// -e: the error log before the configuration is read (the compiled-in
	// default is under /var/log).
	n.c, err = startChild("nginx", dir, exec.Command(bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log")), false, 0)
	if err != nil {
		return nil, err
	}
	if err := waitAnswer(ctx, n.c, "http://"+n.addr+"/", 30*time.Second); err != nil {
		n.stop()
		return nil, fmt.Errorf("%w (error log %s)", err, filepath.Join(dir, "error.log"))
	}
	return n, nil
}

// pids returns the master and its workers.
func (n *nginxPeer) pids() []int {
	master := n.c.cmd.Process.Pid
	return append([]int{master}, childPIDs(master)...)
}

func (n *nginxPeer) stop() {
	if n.c != nil {
		n.c.stop(5 * time.Second) // SIGTERM: fast shutdown of master and workers
	}
}

// childPIDs lists the direct children of pid (scanning /proc: the kernel's
// task/*/children file is not always there).
func childPIDs(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}

// sumProcs samples pids and sums CPU time and RSS (the zero sample when
// pids is empty).
func sumProcs(pids []int) procSample {
	s := procSample{At: time.Now()}
	for _, p := range pids {
		if x, err := readProc(p); err == nil {
			s.CPU += x.CPU
			s.RSS += x.RSS
		}
	}
	return s
}

// shiftCopies is how many time-shifted playlists per rendition are copied
// for nginx (a static server cannot answer ?start=&end=).
const shiftCopies = 16

// mirrorForNginx copies what the load generator asks the origin for into
// root as static files under the same paths: the multivariant and live media
// playlists as they are now, shiftCopies time-shifted playlists per
// rendition at random starts, and every segment of the window (hard links to
// one file of the origin's segment bytes). It returns the targets on nginx.
func mirrorForNginx(ctx context.Context, cl *http.Client, tg *targets, body []byte, root, nginxBase string, span time.Duration) (*targets, error) {
	local := func(u string) (string, error) {
		pu, err := url.Parse(u)
		if err != nil {
			return "", err
		}
		p := filepath.Join(root, filepath.FromSlash(pu.Path))
		return p, os.MkdirAll(filepath.Dir(p), 0o755)
	}
	copyURL := func(u string) error {
		b, err := get(ctx, cl, u)
		if err != nil {
			return err
		}
		p, err := local(u)
		if err != nil {
			return err
		}
		return os.WriteFile(p, b, 0o644)
	}
	re := func(u string) string { return nginxBase + strings.TrimPrefix(u, tg.base) }
	ng := &targets{base: nginxBase, master: re(tg.master), oldest: tg.oldest, liveBytes: tg.liveBytes, shiftBytes: tg.shiftBytes,
		segExt: tg.segExt, firstSeq: tg.firstSeq, lastSeq: tg.lastSeq}
	if err := copyURL(tg.master); err != nil {
		return nil, err
	}
	if tg.mpd != "" {
		if err := copyURL(tg.mpd); err != nil {
			return nil, err
		}
		ng.mpd, ng.mpdBytes = re(tg.mpd), tg.mpdBytes
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	// Hard links to a few copies of the segment: ext4 allows 65,000 per inode.
	const linksPerFile = 60000
	links, seg := 0, ""
	link := func(dst string) error {
		if links%linksPerFile == 0 {
			seg = filepath.Join(root, fmt.Sprintf("segment%d.bin", links/linksPerFile))
			if err := os.WriteFile(seg, body, 0o644); err != nil {
				return err
			}
		}
		links++
		if err := os.Link(seg, dst); err != nil && !os.IsExist(err) {
			return fmt.Errorf("link segment: %w", err)
		}
		return nil
	}
	for r, m := range tg.media {
		if err := copyURL(m); err != nil {
			return nil, err
		}
		ng.media = append(ng.media, re(m))
		var shifts []string
		copies := shiftCopies
		if tg.shift != nil {
			copies = len(tg.shift[r]) // the origin's fixed windows
		}
		for k := range copies {
			var src string
			if tg.shift != nil {
				src = tg.shift[r][k]
			} else {
				src = tg.shiftURL(r, rnd, span)
			}
			b, err := get(ctx, cl, src)
			if err != nil {
				return nil, err
			}
			p, err := local(m)
			if err != nil {
				return nil, err
			}
			name := fmt.Sprintf("shift%d_%s", k, filepath.Base(p))
			if err := os.WriteFile(filepath.Join(filepath.Dir(p), name), b, 0o644); err != nil {
				return nil, err
			}
			shifts = append(shifts, re(m[:strings.LastIndexByte(m, '/')+1]+name))
		}
		ng.shift = append(ng.shift, shifts)
		ng.segPrefix = append(ng.segPrefix, re(tg.segPrefix[r]))
		dir, err := local(tg.segPrefix[r] + "x")
		if err != nil {
			return nil, err
		}
		dir = filepath.Dir(dir)
		for seq := tg.firstSeq[r]; seq <= tg.lastSeq[r]; seq++ {
			if err := link(filepath.Join(dir, strconv.FormatInt(seq, 10)+tg.segExt)); err != nil {
				return nil, err
			}
		}
	}
	return ng, nil
}
