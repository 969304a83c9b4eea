package deploy

import (
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Object is one rendered Kubernetes object, decoded into its typed API
// struct: Value is a *appsv1.Deployment, *appsv1.StatefulSet,
// *corev1.Service or *corev1.Namespace.
type Object struct {
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	Value      any
}

// ID names the object as kubectl does: Kind/namespace/name.
func (o Object) ID() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// newTyped maps the apiVersion and kind of every object alur deploys to its
// Go API type. A kind outside this table is an error, so adding one to the
// manifests means adding its schema here too.
var newTyped = map[string]func() any{
	"apps/v1/Deployment":       func() any { return new(appsv1.Deployment) },
	"apps/v1/StatefulSet":      func() any { return new(appsv1.StatefulSet) },
	"v1/Service":               func() any { return new(corev1.Service) },
	"v1/Namespace":             func() any { return new(corev1.Namespace) },
	"v1/PersistentVolumeClaim": func() any { return new(corev1.PersistentVolumeClaim) },
}

// Render builds the kustomization in dir with kustomize's Go API (the
// engine behind kubectl apply -k, with its default options: files only from
// inside the kustomization root, no plugins) and decodes every resulting
// object with DecodeStrict.
func Render(dir string) ([]Object, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var objs []Object
	for _, r := range m.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", dir, r.CurId(), err)
		}
		o, err := DecodeStrict(doc)
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", dir, r.CurId(), err)
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// DecodeStrict decodes one YAML document into the Kubernetes API type that
// its apiVersion and kind name, the way the API server's strict field
// validation does (sigs.k8s.io/json, case-sensitive): a field the type does
// not have (a typo, a wrong capitalisation, a field at the wrong level), a
// duplicate field, or a value of the wrong type (a string where an integer
// belongs, a malformed quantity) is an error. This is schema validation
// against the Kubernetes API types; it does not run the API server's
// semantic validation (see Check for the part of it alur relies on).
func DecodeStrict(doc []byte) (Object, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return Object{}, fmt.Errorf("decode: %w", err)
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := json.UnmarshalCaseSensitivePreserveInts(js, &head); err != nil {
		return Object{}, fmt.Errorf("decode: %w", err)
	}
	if head.APIVersion == "" || head.Kind == "" {
		return Object{}, fmt.Errorf("decode: apiVersion and kind are required")
	}
	mk, ok := newTyped[head.APIVersion+"/"+head.Kind]
	if !ok {
		return Object{}, fmt.Errorf("decode: no schema for %s %s", head.APIVersion, head.Kind)
	}
	v := mk()
	strictErrs, err := json.UnmarshalStrict(js, v)
	if err != nil {
		return Object{}, fmt.Errorf("%s %s: %w", head.Kind, head.Metadata.Name, err)
	}
	if len(strictErrs) > 0 {
		return Object{}, fmt.Errorf("%s %s: %w", head.Kind, head.Metadata.Name, errors.Join(strictErrs...))
	}
	return Object{
		APIVersion: head.APIVersion,
		Kind:       head.Kind,
		Name:       head.Metadata.Name,
		Namespace:  head.Metadata.Namespace,
		Value:      v,
	}, nil
}
