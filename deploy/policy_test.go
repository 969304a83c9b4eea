package deploy

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// find returns the typed value of the object with the given kind and name.
func find[T any](t *testing.T, objs []Object, kind, name string) T {
	t.Helper()
	for _, o := range objs {
		if o.Kind == kind && o.Name == name {
			return o.Value.(T)
		}
	}
	t.Fatalf("no %s %s", kind, name)
	var zero T
	return zero
}

func ptr[T any](v T) *T { return &v }

// TestCheckViolations renders the base, breaks one rule at a time and
// expects Check to name it.
func TestCheckViolations(t *testing.T) {
	train := func(t *testing.T, objs []Object) *corev1.Container {
		return &find[*appsv1.Deployment](t, objs, "Deployment", "train").Spec.Template.Spec.Containers[0]
	}
	tests := []struct {
		name   string
		mutate func(t *testing.T, objs []Object) []Object
		want   string
	}{
		{"latest image", func(t *testing.T, o []Object) []Object { train(t, o).Image = "alur-train:latest"; return o }, "not pinned"},
		{"untagged image", func(t *testing.T, o []Object) []Object { train(t, o).Image = "alur-train"; return o }, "not pinned"},
		{"no readiness probe", func(t *testing.T, o []Object) []Object { train(t, o).ReadinessProbe = nil; return o }, "readinessProbe: missing"},
		{"http liveness probe", func(t *testing.T, o []Object) []Object {
			train(t, o).LivenessProbe.ProbeHandler = corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(7003)}}
			return o
		}, "livenessProbe.grpc: missing"},
		{"probe on another port", func(t *testing.T, o []Object) []Object { train(t, o).ReadinessProbe.GRPC.Port = 9; return o }, "9 is not a port"},
		{"no memory limit", func(t *testing.T, o []Object) []Object {
			delete(train(t, o).Resources.Limits, corev1.ResourceMemory)
			return o
		}, "limits.memory"},
		{"request above limit", func(t *testing.T, o []Object) []Object {
			train(t, o).Resources.Requests[corev1.ResourceCPU] = resource.MustParse("8")
			return o
		}, "exceeds the limit"},
		{"privilege escalation", func(t *testing.T, o []Object) []Object {
			train(t, o).SecurityContext.AllowPrivilegeEscalation = nil
			return o
		}, "allowPrivilegeEscalation"},
		{"writable root", func(t *testing.T, o []Object) []Object {
			train(t, o).SecurityContext.ReadOnlyRootFilesystem = ptr(false)
			return o
		}, "readOnlyRootFilesystem"},
		{"capabilities kept", func(t *testing.T, o []Object) []Object { train(t, o).SecurityContext.Capabilities.Drop = nil; return o }, "must contain ALL"},
		{"capability added", func(t *testing.T, o []Object) []Object {
			train(t, o).SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
			return o
		}, "capabilities.add"},
		{"root user", func(t *testing.T, o []Object) []Object {
			train(t, o).SecurityContext.RunAsUser = ptr(int64(0))
			return o
		}, "runAsUser"},
		{"pod may run as root", func(t *testing.T, o []Object) []Object {
			d := find[*appsv1.Deployment](t, o, "Deployment", "train")
			d.Spec.Template.Spec.SecurityContext.RunAsNonRoot = nil
			train(t, o).SecurityContext.RunAsNonRoot = nil
			return o
		}, "runAsNonRoot"},
		{"no seccomp", func(t *testing.T, o []Object) []Object {
			find[*appsv1.Deployment](t, o, "Deployment", "train").Spec.Template.Spec.SecurityContext.SeccompProfile = nil
			return o
		}, "seccompProfile"},
		{"service account token", func(t *testing.T, o []Object) []Object {
			find[*appsv1.Deployment](t, o, "Deployment", "train").Spec.Template.Spec.AutomountServiceAccountToken = nil
			return o
		}, "automountServiceAccountToken"},
		{"undefined variable", func(t *testing.T, o []Object) []Object {
			train(t, o).Args = append(train(t, o).Args, "--x=$(NOPE)")
			return o
		}, "$(NOPE) is not defined"},
		{"selector misses the pods", func(t *testing.T, o []Object) []Object {
			find[*appsv1.Deployment](t, o, "Deployment", "train").Spec.Selector.MatchLabels["app.kubernetes.io/name"] = "other"
			return o
		}, "does not select the pod template"},
		{"service selects nothing", func(t *testing.T, o []Object) []Object {
			find[*corev1.Service](t, o, "Service", "train").Spec.Selector = map[string]string{"app.kubernetes.io/name": "nope"}
			return o
		}, "selects no workload"},
		{"service target port", func(t *testing.T, o []Object) []Object {
			find[*corev1.Service](t, o, "Service", "train").Spec.Ports[0].TargetPort = intstr.FromString("http")
			return o
		}, "http is not a port"},
		{"node port", func(t *testing.T, o []Object) []Object {
			find[*corev1.Service](t, o, "Service", "eval").Spec.Type = corev1.ServiceTypeNodePort
			return o
		}, "spec.type"},
		{"governing service not headless", func(t *testing.T, o []Object) []Object {
			find[*corev1.Service](t, o, "Service", "orchestrator-headless").Spec.ClusterIP = ""
			return o
		}, "not headless"},
		{"mount without volume", func(t *testing.T, o []Object) []Object {
			ss := find[*appsv1.StatefulSet](t, o, "StatefulSet", "orchestrator")
			ss.Spec.VolumeClaimTemplates[0].Name = "other"
			return o
		}, `no volume or claim template "data"`},
		{"claim without size", func(t *testing.T, o []Object) []Object {
			ss := find[*appsv1.StatefulSet](t, o, "StatefulSet", "orchestrator")
			ss.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests = nil
			return o
		}, "requests.storage"},
		{"no namespace", func(t *testing.T, o []Object) []Object {
			for i := range o {
				if o[i].Name == "prep" {
					o[i].Namespace = ""
				}
			}
			return o
		}, "metadata.namespace: unset"},
		{"bad label value", func(t *testing.T, o []Object) []Object {
			find[*corev1.Service](t, o, "Service", "prep").Labels["team"] = "not ok!"
			return o
		}, `value of "team"`},
		{"zero replicas", func(t *testing.T, o []Object) []Object {
			find[*appsv1.Deployment](t, o, "Deployment", "ingest").Spec.Replicas = ptr(int32(0))
			return o
		}, "at least one replica"},
		{"duplicate object", func(t *testing.T, o []Object) []Object { return append(o, o[0]) }, "defined twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := Render("k8s/base")
			if err != nil {
				t.Fatal(err)
			}
			if errs := Check(objs); len(errs) > 0 {
				t.Fatalf("the base already fails: %v", errs)
			}
			errs := Check(tc.mutate(t, objs))
			for _, e := range errs {
				if strings.Contains(e.Error(), tc.want) {
					return
				}
			}
			t.Errorf("Check = %v; want an error containing %q", errs, tc.want)
		})
	}
}
