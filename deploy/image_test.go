package deploy

import (
	"slices"
	"strings"
	"testing"
)

const goodDockerfile = `FROM golang:1.26 AS build
ENV CGO_ENABLED=0 GOWORK=off
WORKDIR /src
COPY proto/go.mod proto/go.sum proto/
COPY services/x/go.mod services/x/go.sum services/x/
COPY proto/ proto/
COPY services/x/ services/x/
COPY README.md /docs/
WORKDIR services/x
RUN go build -trimpath -ldflags='-s -w' -o /out/x ./cmd/x

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/x /usr/local/bin/x
USER 65532:65532
EXPOSE 7003 8080/tcp
ENTRYPOINT ["/usr/local/bin/x", "--addr", "0.0.0.0:7003"]
`

func TestCheckGoImageGood(t *testing.T) {
	d, err := ParseDockerfile(strings.NewReader(goodDockerfile))
	if err != nil {
		t.Fatal(err)
	}
	g, errs := CheckGoImage(d)
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	if g.WorkDir != "/src/services/x" || g.Package != "./cmd/x" || g.Output != "/out/x" || g.Binary != "/usr/local/bin/x" {
		t.Errorf("got workdir %q package %q output %q binary %q", g.WorkDir, g.Package, g.Output, g.Binary)
	}
	if g.UID != 65532 || g.GID != 65532 || !slices.Equal(g.Exposed, []int{7003, 8080}) {
		t.Errorf("got uid %d gid %d exposed %v", g.UID, g.GID, g.Exposed)
	}
	if g.Env["CGO_ENABLED"] != "0" || g.Env["GOWORK"] != "off" {
		t.Errorf("env %v", g.Env)
	}
	paths := []struct {
		file string
		want []string
	}{
		{"proto/go.mod", []string{"/src/proto/go.mod", "/src/proto/go.mod"}},
		{"services/x/cmd/x/main.go", []string{"/src/services/x/cmd/x/main.go"}},
		{"README.md", []string{"/docs/README.md"}},
		{"ml/table/table.go", nil},
	}
	for _, p := range paths {
		if got := g.ContainerPaths(p.file); !slices.Equal(got, p.want) {
			t.Errorf("ContainerPaths(%q) = %v; want %v", p.file, got, p.want)
		}
	}
}

func TestCheckGoImageViolations(t *testing.T) {
	tests := []struct {
		name, old, new, want string
	}{
		{"unpinned builder", "golang:1.26", "golang", "not pinned"},
		{"latest builder", "golang:1.26", "golang:latest", "not pinned"},
		{"full final base", "gcr.io/distroless/static-debian12:nonroot", "debian:12", "want scratch or gcr.io/distroless/static"},
		{"distroless with libc", "gcr.io/distroless/static-debian12:nonroot", "gcr.io/distroless/base-debian12:nonroot", "want scratch"},
		{"no user", "USER 65532:65532\n", "", "no USER"},
		{"root user", "USER 65532:65532", "USER 0", "non-root uid"},
		{"named user", "USER 65532:65532", "USER nonroot", "non-root uid"},
		{"root group", "USER 65532:65532", "USER 65532:0", "non-root gid"},
		{"shell entrypoint", `ENTRYPOINT ["/usr/local/bin/x", "--addr", "0.0.0.0:7003"]`, "ENTRYPOINT /usr/local/bin/x", "exec form"},
		{"bad json entrypoint", `ENTRYPOINT ["/usr/local/bin/x", "--addr", "0.0.0.0:7003"]`, `ENTRYPOINT ["/usr/local/bin/x",]`, "JSON array"},
		{"relative entrypoint", `ENTRYPOINT ["/usr/local/bin/x"`, `ENTRYPOINT ["x"`, "absolute path"},
		{"entrypoint not the binary", `ENTRYPOINT ["/usr/local/bin/x"`, `ENTRYPOINT ["/bin/y"`, "copies no binary"},
		{"cgo on", "CGO_ENABLED=0", "CGO_ENABLED=1", "CGO_ENABLED=0"},
		{"no trimpath", "-trimpath ", "", "-trimpath"},
		{"not stripped", "-ldflags='-s -w'", "-ldflags='-w'", "-s -w"},
		{"wrong output", "-o /out/x", "-o /out/y", "the final stage copies"},
		{"shell operators", "./cmd/x\n", "./cmd/x && true\n", "one simple command"},
		{"two packages", "./cmd/x\n", "./cmd/x ./cmd/y\n", "exactly one package"},
		{"absolute package", "./cmd/x\n", "github.com/a/x\n", "exactly one package"},
		{"no go build", "RUN go build", "RUN echo build", "exactly one RUN with go build"},
		{"ADD", "COPY README.md /docs/", "ADD README.md /docs/", "use COPY"},
		{"wildcard", "COPY README.md /docs/", "COPY *.md /docs/", "wildcards"},
		{"escape the context", "COPY README.md /docs/", "COPY ../secret /docs/", "outside the build context"},
		{"bad expose", "EXPOSE 7003 8080/tcp", "EXPOSE 7003/udp", "TCP port"},
		{"single stage", "\nFROM gcr.io/distroless/static-debian12:nonroot\nCOPY --from=build /out/x /usr/local/bin/x\n", "\n", "multi-stage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(goodDockerfile, tc.old, tc.new, 1)
			if src == goodDockerfile {
				t.Fatalf("%q not in the fixture", tc.old)
			}
			d, err := ParseDockerfile(strings.NewReader(src))
			if err != nil {
				t.Fatal(err)
			}
			_, errs := CheckGoImage(d)
			for _, e := range errs {
				if strings.Contains(e.Error(), tc.want) {
					return
				}
			}
			t.Errorf("errors %v; want one containing %q", errs, tc.want)
		})
	}
}
