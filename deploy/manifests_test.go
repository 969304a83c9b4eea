package deploy

import (
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// fullSuite is what the base and its overlays render.
var fullSuite = []string{
	"Namespace/alur",
	"Deployment/alur/ingest", "Service/alur/ingest",
	"Deployment/alur/prep", "Service/alur/prep",
	"Deployment/alur/train", "Service/alur/train",
	"Deployment/alur/eval", "Service/alur/eval",
	"Deployment/alur/serve", "Service/alur/serve",
	"StatefulSet/alur/orchestrator", "Service/alur/orchestrator", "Service/alur/orchestrator-headless",
}

// deployable is a kustomization meant for kubectl apply -k and what it
// must render.
type deployable struct {
	dir           string
	objects       []string
	trainReplicas int32
	// orchestratorFlags are flag values the orchestrator must get.
	orchestratorFlags map[string]string
	// storage is the orchestrator's volume size.
	storage string
	// orchestratorReplicas is how many orchestrators run; 0 means 1 (one
	// bbolt file, one writer).
	orchestratorReplicas int32
	// thirdParty are workloads not built from this repository (etcd):
	// they pass the shared policy (Check), not alur's own expectations.
	thirdParty []string
	// ha wants the orchestrators on the render's etcd and a shared blob
	// store (checkHA).
	ha bool
}

// haSuite is what the highly available overlay renders.
var haSuite = append(slices.Clone(fullSuite),
	"StatefulSet/alur/etcd", "Service/alur/etcd-headless")

// deployables lists them all; a new overlay must be added here to be
// accepted.
var deployables = []deployable{
	{dir: "k8s/base", objects: fullSuite, trainReplicas: 2, storage: "10Gi"},
	{dir: "k8s/overlays/dev", objects: fullSuite, trainReplicas: 1, storage: "1Gi"},
	{dir: "k8s/overlays/scale", objects: fullSuite, trainReplicas: 4, storage: "10Gi",
		orchestratorFlags: map[string]string{"max-parallel-trials": "4"}},
	{dir: "k8s/overlays/ha", objects: haSuite, trainReplicas: 2, storage: "10Gi",
		orchestratorReplicas: 3, thirdParty: []string{"etcd"}, ha: true,
		orchestratorFlags: map[string]string{"blobs": "s3://alur-artifacts/alur?endpoint=https://s3.us-east-1.amazonaws.com&region=us-east-1", "owner-ttl": "10s"}},
	{dir: "k8s/stage-only/train", objects: []string{"Namespace/alur", "Deployment/alur/train", "Service/alur/train"}, trainReplicas: 1},
}

// TestEveryKustomizationRenders builds every kustomization under k8s/,
// the parts of the base included, and decodes its output strictly.
func TestEveryKustomizationRenders(t *testing.T) {
	err := filepath.WalkDir("k8s", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() != "kustomization.yaml" {
			return nil
		}
		dir := filepath.Dir(p)
		t.Run(filepath.ToSlash(dir), func(t *testing.T) {
			if _, err := Render(dir); err != nil {
				t.Error(err)
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDeployablesAreListed keeps deployables complete: every directory
// under k8s/overlays and k8s/stage-only is one.
func TestDeployablesAreListed(t *testing.T) {
	var dirs []string
	for _, pattern := range []string{"k8s/overlays/*", "k8s/stage-only/*"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, m...)
	}
	for _, d := range dirs {
		d = filepath.ToSlash(d)
		if !slices.ContainsFunc(deployables, func(x deployable) bool { return x.dir == d }) {
			t.Errorf("%s is not listed in deployables: say what it must render", d)
		}
	}
}

// TestManifests renders each deployable and checks it: strict decoding
// into the API types (in Render), the shared policy (Check), and what alur
// needs from it: the expected objects in namespace alur, container images
// built from services/*/Dockerfile whose ENTRYPOINT plus the manifest's
// args parse with the binary's own flags, listen ports that match the
// container ports, probes and Services, a headless train Service with the
// expected replica count, and an orchestrator whose stage addresses name
// Services of the same render and whose --data-dir is its claimed volume.
func TestManifests(t *testing.T) {
	base, err := Render("k8s/base")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range deployables {
		t.Run(tc.dir, func(t *testing.T) {
			objs, err := Render(tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, o := range objs {
				ids = append(ids, o.ID())
			}
			if !sameSet(ids, tc.objects) {
				t.Errorf("rendered %v\nwant %v", ids, tc.objects)
			}
			for _, e := range Check(objs) {
				t.Error(e)
			}
			checkAlur(t, objs, tc.thirdParty)
			for _, o := range objs {
				w, ok := AsWorkload(o)
				if !ok {
					continue
				}
				switch o.Name {
				case "train":
					if *w.Replicas != tc.trainReplicas {
						t.Errorf("train replicas = %d; want %d", *w.Replicas, tc.trainReplicas)
					}
				case "orchestrator":
					if want := max(tc.orchestratorReplicas, 1); *w.Replicas != want {
						t.Errorf("orchestrator replicas = %d; want %d (one bbolt file, one writer; several only on etcd)", *w.Replicas, want)
					}
					vals := containerFlags(t, o, w.Template.Spec.Containers[0])
					if tc.ha {
						checkHA(t, objs, w, vals)
					} else if vals["store"] != "" {
						t.Errorf("orchestrator --store %q; want the bbolt default in --data-dir", vals["store"])
					}
					for k, v := range tc.orchestratorFlags {
						if vals[k] != v {
							t.Errorf("orchestrator --%s = %q; want %q", k, vals[k], v)
						}
					}
					got := w.Claims[0].Spec.Resources.Requests[corev1.ResourceStorage]
					if got.String() != tc.storage {
						t.Errorf("orchestrator volume = %s; want %s", got.String(), tc.storage)
					}
				}
			}
			if tc.dir == "k8s/overlays/dev" {
				checkSmaller(t, objs, base)
			}
		})
	}
}

// checkAlur applies the alur-specific expectations to one render.
func checkAlur(t *testing.T, objs []Object, thirdParty []string) {
	t.Helper()
	services := map[string]*corev1.Service{}
	for _, o := range objs {
		if o.Namespace != "" && o.Namespace != "alur" {
			t.Errorf("%s: namespace %q; want alur", o.ID(), o.Namespace)
		}
		switch v := o.Value.(type) {
		case *corev1.Namespace:
			if v.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
				t.Errorf("%s: want the label pod-security.kubernetes.io/enforce=restricted", o.ID())
			}
		case *corev1.Service:
			services[o.Name] = v
		}
	}
	if s := services["train"]; s != nil && s.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("Service train: clusterIP %q; want None (headless, so DNS returns every train pod)", s.Spec.ClusterIP)
	}
	for _, o := range objs {
		w, ok := AsWorkload(o)
		if !ok || slices.Contains(thirdParty, o.Name) {
			continue
		}
		if len(w.Template.Spec.Containers) != 1 {
			t.Errorf("%s: want one container", o.ID())
			continue
		}
		c := w.Template.Spec.Containers[0]
		img := loadImage(t, o.Name)
		if ref, _ := ParseImageRef(c.Image); ref.Repository != "alur-"+o.Name || c.Name != o.Name {
			t.Errorf("%s: container %s image %s; want a container %s running alur-%s (services/%s/Dockerfile)", o.ID(), c.Name, c.Image, o.Name, o.Name, o.Name)
		}
		if len(c.Command) > 0 {
			t.Errorf("%s: command overrides the image's ENTRYPOINT %v", o.ID(), img.Entrypoint)
		}
		vals := containerFlags(t, o, c)
		ports := map[string]int32{}
		var declared []int
		for _, p := range c.Ports {
			ports[p.Name] = p.ContainerPort
			declared = append(declared, int(p.ContainerPort))
		}
		if got := portOf(t, vals["addr"]); int32(got) != ports["grpc"] {
			t.Errorf("%s: listens on %d (--addr %s) but the grpc container port is %d", o.ID(), got, vals["addr"], ports["grpc"])
		}
		if c.ReadinessProbe.GRPC.Port != ports["grpc"] || c.LivenessProbe.GRPC.Port != ports["grpc"] {
			t.Errorf("%s: probes must check the grpc port %d", o.ID(), ports["grpc"])
		}
		if !sameSet(intsToStrings(declared), intsToStrings(img.Exposed)) {
			t.Errorf("%s: container ports %v; the image EXPOSEs %v", o.ID(), declared, img.Exposed)
		}
		for _, s := range services {
			if s.Spec.Selector["app.kubernetes.io/name"] != o.Name {
				continue
			}
			for _, sp := range s.Spec.Ports {
				if want := ports[sp.TargetPort.StrVal]; sp.Port != want {
					t.Errorf("Service %s port %s: %d; want the container's port %d, so in-cluster addresses use the default ports", s.Name, sp.Name, sp.Port, want)
				}
			}
		}
		if o.Name == "orchestrator" {
			checkOrchestrator(t, o, w, vals, ports, services)
		}
	}
}

// checkOrchestrator wants stage addresses that name Services of the same
// render (train through the dns resolver, for client-side round robin over
// the headless Service), a dashboard port the Service exposes, and the
// bbolt directory on the StatefulSet's claimed volume.
func checkOrchestrator(t *testing.T, o Object, w Workload, vals map[string]string, ports map[string]int32, services map[string]*corev1.Service) {
	t.Helper()
	for _, stage := range []string{"ingest", "prep", "train", "eval"} {
		addr := vals[stage]
		if stage == "train" {
			want := fmt.Sprintf("dns:///train.%s.svc.cluster.local:7003", o.Namespace)
			if addr != want {
				t.Errorf("orchestrator --train %q; want %q", addr, want)
			}
		}
		addr = strings.TrimPrefix(addr, "dns:///")
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Errorf("orchestrator --%s %q: %v", stage, vals[stage], err)
			continue
		}
		svc, ok := strings.CutSuffix(host, "."+o.Namespace+".svc.cluster.local")
		s := services[svc]
		if !ok || s == nil {
			t.Errorf("orchestrator --%s %q: want SERVICE.%s.svc.cluster.local naming a Service of this render", stage, vals[stage], o.Namespace)
			continue
		}
		if svc != stage {
			t.Errorf("orchestrator --%s points at Service %s", stage, svc)
		}
		if !slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return strconv.Itoa(int(p.Port)) == port }) {
			t.Errorf("orchestrator --%s %q: Service %s has no port %s", stage, vals[stage], svc, port)
		}
	}
	if p := portOf(t, vals["http"]); int32(p) != ports["http"] {
		t.Errorf("orchestrator --http %q; want the http container port %d", vals["http"], ports["http"])
	}
	if s := services["orchestrator"]; s == nil || !slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == ports["http"] }) {
		t.Errorf("Service orchestrator must expose the dashboard port %d", ports["http"])
	}
	mounted := false
	for _, m := range w.Template.Spec.Containers[0].VolumeMounts {
		for _, c := range w.Claims {
			if m.Name == c.Name && m.MountPath == vals["data-dir"] && !m.ReadOnly {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("orchestrator --data-dir %q is not a writable mount of a volumeClaimTemplate", vals["data-dir"])
	}
}

// checkHA wants the orchestrators' --store to list every member of the
// render's etcd StatefulSet by its stable name under the governing
// headless Service, on a client port that Service exposes, and --blobs to
// be a store every orchestrator reads what any other wrote in: an S3
// bucket with an endpoint and region, whose keys come from a Secret
// (checkS3), or a writable mount of a ReadWriteMany claim of the render.
func checkHA(t *testing.T, objs []Object, w Workload, vals map[string]string) {
	t.Helper()
	var etcd *appsv1.StatefulSet
	claims := map[string]*corev1.PersistentVolumeClaim{}
	services := map[string]*corev1.Service{}
	for _, o := range objs {
		switch v := o.Value.(type) {
		case *appsv1.StatefulSet:
			if o.Name == "etcd" {
				etcd = v
			}
		case *corev1.PersistentVolumeClaim:
			claims[o.Name] = v
		case *corev1.Service:
			services[o.Name] = v
		}
	}
	if etcd == nil {
		t.Fatal("no StatefulSet etcd in the render")
	}
	ns := w.Object.Namespace
	u, err := url.Parse(vals["store"])
	if err != nil || u.Scheme != "etcd" || u.Path == "" {
		t.Fatalf("orchestrator --store %q; want etcd://members/prefix", vals["store"])
	}
	hs := services[etcd.Spec.ServiceName]
	var want []string
	for i := range *etcd.Spec.Replicas {
		want = append(want, fmt.Sprintf("etcd-%d.%s.%s.svc.cluster.local:2379", i, etcd.Spec.ServiceName, ns))
	}
	if got := strings.Split(u.Host, ","); !slices.Equal(got, want) {
		t.Errorf("orchestrator --store members %v; want every etcd member %v", got, want)
	}
	if hs == nil || !slices.ContainsFunc(hs.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == 2379 }) {
		t.Errorf("Service %s must expose the etcd client port 2379", etcd.Spec.ServiceName)
	}
	if hs != nil && !hs.Spec.PublishNotReadyAddresses {
		t.Errorf("Service %s must publish not-ready addresses: etcd members find each other before they are ready", etcd.Spec.ServiceName)
	}
	if strings.HasPrefix(vals["blobs"], "s3://") {
		checkS3(t, w, vals["blobs"])
		return
	}
	dir := strings.TrimPrefix(vals["blobs"], "file://")
	mounted := false
	for _, m := range w.Template.Spec.Containers[0].VolumeMounts {
		if m.MountPath != dir || m.ReadOnly {
			continue
		}
		for _, v := range w.Template.Spec.Volumes {
			if v.Name != m.Name || v.PersistentVolumeClaim == nil {
				continue
			}
			if c := claims[v.PersistentVolumeClaim.ClaimName]; c != nil && slices.Contains(c.Spec.AccessModes, corev1.ReadWriteMany) {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("orchestrator --blobs %q is not a writable mount of a ReadWriteMany claim shared by the replicas", vals["blobs"])
	}
}

// checkS3 wants an s3://bucket URL naming its endpoint and region, and
// the orchestrator's S3 keys in its environment from a Secret, never as
// literal values in the manifest.
func checkS3(t *testing.T, w Workload, blobs string) {
	t.Helper()
	u, err := url.Parse(blobs)
	if err != nil || u.Host == "" || u.Query().Get("endpoint") == "" || u.Query().Get("region") == "" || u.User != nil {
		t.Errorf("orchestrator --blobs %q; want s3://bucket/prefix?endpoint=URL&region=R, no credentials", blobs)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range w.Template.Spec.Containers[0].Env {
		env[e.Name] = e
	}
	for _, name := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		e, ok := env[name]
		if !ok || e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("orchestrator env %s must come from a Secret (secretKeyRef)", name)
		}
	}
}

// containerFlags returns the flag values the container's process gets:
// the image's ENTRYPOINT arguments followed by the manifest's args with
// $(VAR) references expanded as the kubelet would, parsed against the
// flags the built binary defines.
func containerFlags(t *testing.T, o Object, c corev1.Container) map[string]string {
	t.Helper()
	img := loadImage(t, o.Name)
	_, flags := buildService(t, o.Name)
	env := map[string]string{}
	secret := map[string]bool{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			// Unknown until the Secret exists, and never for the
			// command line, where any process list shows it.
			secret[e.Name] = true
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			env[e.Name] = o.Namespace
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			env[e.Name] = o.Name + "-pod"
		default:
			t.Fatalf("%s: env %s: only literal values, Secret keys and metadata.name/namespace are known here", o.ID(), e.Name)
		}
	}
	args := slices.Clone(img.Entrypoint[1:])
	for _, a := range c.Args {
		args = append(args, varRefRE.ReplaceAllStringFunc(a, func(ref string) string {
			if name := ref[2 : len(ref)-1]; secret[name] {
				t.Errorf("%s: argument %q puts the secret %s on the command line", o.ID(), a, name)
			}
			return env[ref[2:len(ref)-1]]
		}))
	}
	vals, err := parseFlags(args, flags)
	if err != nil {
		t.Fatalf("%s: command line %v: %v", o.ID(), args, err)
	}
	return vals
}

// checkSmaller wants every container of the dev overlay to request no more
// than the same container in the base.
func checkSmaller(t *testing.T, dev, base []Object) {
	t.Helper()
	baseRes := map[string]corev1.ResourceRequirements{}
	for _, o := range base {
		if w, ok := AsWorkload(o); ok {
			baseRes[o.Name] = w.Template.Spec.Containers[0].Resources
		}
	}
	for _, o := range dev {
		w, ok := AsWorkload(o)
		if !ok {
			continue
		}
		r := w.Template.Spec.Containers[0].Resources
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			d, b := r.Requests[name], baseRes[o.Name].Requests[name]
			if d.Cmp(b) > 0 {
				t.Errorf("dev %s requests %s %s, more than the base's %s", o.Name, name, d.String(), b.String())
			}
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func intsToStrings(xs []int) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strconv.Itoa(x)
	}
	return out
}

// TestDecodeStrictRejects shows that the schema validation is strict: the
// rendered YAML of a real object with one mistake in it is refused.
func TestDecodeStrictRejects(t *testing.T) {
	good, err := os.ReadFile("k8s/base/train/service.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeStrict(good); err != nil {
		t.Fatalf("the base Service does not decode: %v", err)
	}
	tests := []struct {
		name, old, new, want string
	}{
		{"unknown field", "  clusterIP: None\n", "  clusterIP: None\n  clusterIp: None\n", `unknown field "spec.clusterIp"`},
		{"wrong capitalisation", "  clusterIP: None\n", "  clusterIp: None\n", `unknown field "spec.clusterIp"`},
		{"field at the wrong level", "  selector:\n", "  replicas: 2\n  selector:\n", `unknown field "spec.replicas"`},
		{"wrong type", "port: 7003", "port: \"seven\"", "cannot unmarshal"},
		{"duplicate field", "  clusterIP: None\n", "  clusterIP: None\n  clusterIP: None\n", "already set"},
		{"unknown kind", "kind: Service", "kind: Ingress", "no schema"},
		{"unknown version", "apiVersion: v1", "apiVersion: v2", "no schema"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(string(good), tc.old, tc.new, 1)
			if doc == string(good) {
				t.Fatalf("%q not found in the fixture", tc.old)
			}
			_, err := DecodeStrict([]byte(doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("DecodeStrict = %v; want an error containing %q", err, tc.want)
			}
		})
	}
}
