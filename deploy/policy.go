package deploy

import (
	"fmt"
	"regexp"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Workload is the part of a Deployment or StatefulSet that the checks look
// at: its selector, replica count and pod template.
type Workload struct {
	Object   Object
	Replicas *int32
	Selector *metav1.LabelSelector
	Template *corev1.PodTemplateSpec
	// Claims are the StatefulSet's volumeClaimTemplates (nil for a
	// Deployment).
	Claims []corev1.PersistentVolumeClaim
}

// AsWorkload returns the workload view of a Deployment or StatefulSet.
func AsWorkload(o Object) (Workload, bool) {
	switch v := o.Value.(type) {
	case *appsv1.Deployment:
		return Workload{Object: o, Replicas: v.Spec.Replicas, Selector: v.Spec.Selector, Template: &v.Spec.Template}, true
	case *appsv1.StatefulSet:
		return Workload{Object: o, Replicas: v.Spec.Replicas, Selector: v.Spec.Selector, Template: &v.Spec.Template, Claims: v.Spec.VolumeClaimTemplates}, true
	}
	return Workload{}, false
}

// Check applies the rules every alur deployment keeps to a rendered set of
// objects and returns one error per violation, each naming the object and
// field. They are a subset of what the API server validates (names, label
// syntax, port numbers, selectors) plus alur's policy: the "restricted" Pod
// Security Standard, resource requests and limits, pinned images, native
// gRPC readiness and liveness probes on a declared port, and Services whose
// selectors and target ports reach a workload. What a cluster alone can
// tell (admission webhooks, quotas, whether an image exists) is not checked.
func Check(objs []Object) []error {
	var errs []error
	add := func(o Object, field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s", o.ID(), field, fmt.Sprintf(format, args...)))
	}
	seen := map[string]bool{}
	var workloads []Workload
	for _, o := range objs {
		if seen[o.ID()] {
			add(o, "metadata.name", "defined twice")
		}
		seen[o.ID()] = true
		checkMeta(o, add)
		if w, ok := AsWorkload(o); ok {
			workloads = append(workloads, w)
			checkWorkload(w, add)
		}
	}
	for _, o := range objs {
		switch v := o.Value.(type) {
		case *corev1.Service:
			checkService(o, v, workloads, add)
		case *appsv1.StatefulSet:
			checkGoverningService(o, v, objs, add)
		}
	}
	for _, w := range workloads {
		checkClaimRefs(w, objs, add)
	}
	return errs
}

// checkClaimRefs wants every persistentVolumeClaim volume of a pod to name
// a claim of the same render and namespace: a missing one leaves the pod
// Pending.
func checkClaimRefs(w Workload, objs []Object, add addFunc) {
	for _, v := range w.Template.Spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		found := slices.ContainsFunc(objs, func(o Object) bool {
			_, ok := o.Value.(*corev1.PersistentVolumeClaim)
			return ok && o.Name == v.PersistentVolumeClaim.ClaimName && o.Namespace == w.Object.Namespace
		})
		if !found {
			add(w.Object, "spec.template.spec.volumes", "%s: no PersistentVolumeClaim %q in the same namespace", v.Name, v.PersistentVolumeClaim.ClaimName)
		}
	}
}

type addFunc func(o Object, field, format string, args ...any)

func checkMeta(o Object, add addFunc) {
	var meta *metav1.ObjectMeta
	nameErrs := validation.IsDNS1123Subdomain(o.Name)
	switch v := o.Value.(type) {
	case *corev1.Namespace:
		meta = &v.ObjectMeta
		nameErrs = validation.IsDNS1123Label(o.Name)
		if o.Namespace != "" {
			add(o, "metadata.namespace", "a Namespace is cluster-scoped")
		}
	case *corev1.Service:
		meta = &v.ObjectMeta
		nameErrs = validation.IsDNS1035Label(o.Name)
	case *appsv1.Deployment:
		meta = &v.ObjectMeta
	case *corev1.PersistentVolumeClaim:
		meta = &v.ObjectMeta
		if len(v.Spec.AccessModes) == 0 {
			add(o, "spec.accessModes", "unset")
		}
		if q, ok := v.Spec.Resources.Requests[corev1.ResourceStorage]; !ok || q.Sign() <= 0 {
			add(o, "spec.resources.requests.storage", "unset or not positive")
		}
	case *appsv1.StatefulSet:
		meta = &v.ObjectMeta
		// Pod names are NAME-ORDINAL and become DNS labels and label values.
		nameErrs = append(nameErrs, validation.IsDNS1123Label(o.Name)...)
	default:
		add(o, "kind", "not checked by this policy")
		return
	}
	for _, e := range nameErrs {
		add(o, "metadata.name", "%s", e)
	}
	if _, ok := o.Value.(*corev1.Namespace); !ok {
		if o.Namespace == "" {
			add(o, "metadata.namespace", "unset: it would land in whatever namespace kubectl defaults to")
		} else {
			for _, e := range validation.IsDNS1123Label(o.Namespace) {
				add(o, "metadata.namespace", "%s", e)
			}
		}
	}
	checkLabels(o, "metadata.labels", meta.Labels, add)
}

func checkLabels(o Object, field string, labels map[string]string, add addFunc) {
	for k, v := range labels {
		for _, e := range validation.IsQualifiedName(k) {
			add(o, field, "key %q: %s", k, e)
		}
		for _, e := range validation.IsValidLabelValue(v) {
			add(o, field, "value of %q: %s", k, e)
		}
	}
}

// varRefRE finds $(VAR) references in command and args, which the kubelet
// expands from the container's env; an undefined one stays literally in the
// argument, so it is a silent bug.
var varRefRE = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func checkWorkload(w Workload, add addFunc) {
	o := w.Object
	if w.Replicas == nil {
		add(o, "spec.replicas", "unset; say how many replicas run")
	} else if *w.Replicas < 1 {
		add(o, "spec.replicas", "%d; at least one replica must run", *w.Replicas)
	}
	if w.Selector == nil || len(w.Selector.MatchLabels) == 0 || len(w.Selector.MatchExpressions) > 0 {
		add(o, "spec.selector", "want matchLabels only, and at least one")
	} else {
		for k, v := range w.Selector.MatchLabels {
			if w.Template.Labels[k] != v {
				add(o, "spec.selector.matchLabels", "%s=%s does not select the pod template", k, v)
			}
		}
	}
	checkLabels(o, "spec.template.metadata.labels", w.Template.Labels, add)
	pod := &w.Template.Spec
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		add(o, "spec.template.spec.automountServiceAccountToken", "must be false: alur pods never call the Kubernetes API")
	}
	psc := pod.SecurityContext
	podNonRoot := psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
	if !podNonRoot {
		add(o, "spec.template.spec.securityContext.runAsNonRoot", "must be true")
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		add(o, "spec.template.spec.securityContext.seccompProfile.type", "must be RuntimeDefault")
	}
	if psc != nil && psc.RunAsUser != nil && *psc.RunAsUser == 0 {
		add(o, "spec.template.spec.securityContext.runAsUser", "must not be 0")
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		add(o, "spec.template.spec", "host namespaces are not allowed")
	}
	volumes := map[string]bool{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = true
		if v.HostPath != nil {
			add(o, "spec.template.spec.volumes", "%s: hostPath volumes are not allowed", v.Name)
		}
	}
	for i, c := range w.Claims {
		volumes[c.Name] = true
		f := fmt.Sprintf("spec.volumeClaimTemplates[%d]", i)
		if len(c.Spec.AccessModes) == 0 {
			add(o, f+".spec.accessModes", "unset")
		}
		if q, ok := c.Spec.Resources.Requests[corev1.ResourceStorage]; !ok || q.Sign() <= 0 {
			add(o, f+".spec.resources.requests.storage", "unset or not positive")
		}
	}
	if len(pod.InitContainers) > 0 {
		add(o, "spec.template.spec.initContainers", "not expected in alur pods")
	}
	if len(pod.Containers) == 0 {
		add(o, "spec.template.spec.containers", "empty")
	}
	names := map[string]bool{}
	for i, c := range pod.Containers {
		f := fmt.Sprintf("spec.template.spec.containers[%d]", i)
		if names[c.Name] {
			add(o, f+".name", "%q used twice", c.Name)
		}
		names[c.Name] = true
		for _, e := range validation.IsDNS1123Label(c.Name) {
			add(o, f+".name", "%s", e)
		}
		checkContainer(o, f, c, podNonRoot, volumes, add)
	}
}

func checkContainer(o Object, f string, c corev1.Container, podNonRoot bool, volumes map[string]bool, add addFunc) {
	ref, err := ParseImageRef(c.Image)
	switch {
	case err != nil:
		add(o, f+".image", "%v", err)
	case !ref.Pinned():
		add(o, f+".image", "%q is not pinned to a tag or digest (latest or untagged)", c.Image)
	}
	ports := map[int32]bool{}
	portNames := map[string]int32{}
	for j, p := range c.Ports {
		pf := fmt.Sprintf("%s.ports[%d]", f, j)
		for _, e := range validation.IsValidPortNum(int(p.ContainerPort)) {
			add(o, pf+".containerPort", "%s", e)
		}
		if ports[p.ContainerPort] {
			add(o, pf+".containerPort", "%d declared twice", p.ContainerPort)
		}
		ports[p.ContainerPort] = true
		if p.Name != "" {
			for _, e := range validation.IsValidPortName(p.Name) {
				add(o, pf+".name", "%s", e)
			}
			if _, dup := portNames[p.Name]; dup {
				add(o, pf+".name", "%q declared twice", p.Name)
			}
			portNames[p.Name] = p.ContainerPort
		}
	}
	for _, probe := range []struct {
		name string
		p    *corev1.Probe
	}{{"readinessProbe", c.ReadinessProbe}, {"livenessProbe", c.LivenessProbe}} {
		pf := f + "." + probe.name
		switch {
		case probe.p == nil:
			add(o, pf, "missing")
		case probe.p.GRPC == nil:
			add(o, pf+".grpc", "missing: alur servers answer grpc.health.v1, so probe that")
		case !ports[probe.p.GRPC.Port]:
			add(o, pf+".grpc.port", "%d is not a port of the container", probe.p.GRPC.Port)
		}
	}
	checkResources(o, f+".resources", c.Resources, add)
	sc := c.SecurityContext
	if sc == nil {
		add(o, f+".securityContext", "missing")
		return
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		add(o, f+".securityContext.allowPrivilegeEscalation", "must be false")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		add(o, f+".securityContext.readOnlyRootFilesystem", "must be true")
	}
	if sc.Privileged != nil && *sc.Privileged {
		add(o, f+".securityContext.privileged", "must not be true")
	}
	if sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot || sc.RunAsNonRoot == nil && !podNonRoot {
		add(o, f+".securityContext.runAsNonRoot", "must be true")
	}
	if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
		add(o, f+".securityContext.runAsUser", "must not be 0")
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		add(o, f+".securityContext.capabilities.drop", "must contain ALL")
	} else if len(sc.Capabilities.Add) > 0 {
		add(o, f+".securityContext.capabilities.add", "must be empty")
	}
	env := map[string]bool{}
	for j, e := range c.Env {
		for _, msg := range validation.IsEnvVarName(e.Name) {
			add(o, fmt.Sprintf("%s.env[%d].name", f, j), "%s", msg)
		}
		env[e.Name] = true
	}
	for _, list := range []struct {
		name string
		args []string
	}{{"command", c.Command}, {"args", c.Args}} {
		for j, a := range list.args {
			for _, m := range varRefRE.FindAllStringSubmatch(a, -1) {
				if !env[m[1]] {
					add(o, fmt.Sprintf("%s.%s[%d]", f, list.name, j), "$(%s) is not defined in env", m[1])
				}
			}
		}
	}
	for j, m := range c.VolumeMounts {
		if !volumes[m.Name] {
			add(o, fmt.Sprintf("%s.volumeMounts[%d].name", f, j), "no volume or claim template %q", m.Name)
		}
	}
}

// checkResources wants cpu and memory requests and limits, with every
// request no larger than its limit (the API server rejects the reverse).
func checkResources(o Object, f string, r corev1.ResourceRequirements, add addFunc) {
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := r.Requests[name]
		lim, hasLim := r.Limits[name]
		if !hasReq || req.Sign() <= 0 {
			add(o, f+".requests."+string(name), "unset or not positive")
		}
		if !hasLim || lim.Sign() <= 0 {
			add(o, f+".limits."+string(name), "unset or not positive")
		}
		if hasReq && hasLim && req.Cmp(lim) > 0 {
			add(o, f+".requests."+string(name), "%s exceeds the limit %s", req.String(), lim.String())
		}
	}
}

// checkService wants a selector that picks the pods of at least one
// workload in the same namespace, and target ports that every selected
// container declares.
func checkService(o Object, s *corev1.Service, workloads []Workload, add addFunc) {
	if len(s.Spec.Selector) == 0 {
		add(o, "spec.selector", "empty: the Service would select no pods")
		return
	}
	switch s.Spec.Type {
	case "", corev1.ServiceTypeClusterIP:
	default:
		add(o, "spec.type", "%s: alur Services are internal (ClusterIP); use kubectl port-forward or an Ingress", s.Spec.Type)
	}
	var selected []Workload
	for _, w := range workloads {
		if w.Object.Namespace != o.Namespace {
			continue
		}
		match := true
		for k, v := range s.Spec.Selector {
			if w.Template.Labels[k] != v {
				match = false
				break
			}
		}
		if match {
			selected = append(selected, w)
		}
	}
	if len(selected) == 0 {
		add(o, "spec.selector", "%v selects no workload's pods", s.Spec.Selector)
	}
	if len(s.Spec.Ports) == 0 {
		add(o, "spec.ports", "empty")
	}
	names := map[string]bool{}
	for i, p := range s.Spec.Ports {
		f := fmt.Sprintf("spec.ports[%d]", i)
		for _, e := range validation.IsValidPortNum(int(p.Port)) {
			add(o, f+".port", "%s", e)
		}
		if len(s.Spec.Ports) > 1 && p.Name == "" {
			add(o, f+".name", "required when a Service has several ports")
		}
		if names[p.Name] {
			add(o, f+".name", "%q used twice", p.Name)
		}
		names[p.Name] = true
		target := p.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(p.Port)
		}
		for _, w := range selected {
			if !declaresPort(w.Template.Spec.Containers, target) {
				add(o, f+".targetPort", "%s is not a port of %s", target.String(), w.Object.ID())
			}
		}
	}
}

func declaresPort(cs []corev1.Container, target intstr.IntOrString) bool {
	for _, c := range cs {
		for _, p := range c.Ports {
			if target.Type == intstr.String && p.Name == target.StrVal || target.Type == intstr.Int && p.ContainerPort == target.IntVal {
				return true
			}
		}
	}
	return false
}

// checkGoverningService wants the StatefulSet's serviceName to be a
// headless Service in the same set, which gives its pods stable DNS names.
func checkGoverningService(o Object, ss *appsv1.StatefulSet, objs []Object, add addFunc) {
	for _, other := range objs {
		if s, ok := other.Value.(*corev1.Service); ok && other.Name == ss.Spec.ServiceName && other.Namespace == o.Namespace {
			if s.Spec.ClusterIP != corev1.ClusterIPNone {
				add(o, "spec.serviceName", "Service %s is not headless (clusterIP: None)", other.Name)
			}
			return
		}
	}
	add(o, "spec.serviceName", "no Service %q in the same namespace", ss.Spec.ServiceName)
}
