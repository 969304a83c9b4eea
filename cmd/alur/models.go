package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/alur-ml/alur/ml/onnx"
	datav1 "github.com/alur-ml/alur/proto/alur/data/v1"
	orchestratorv1 "github.com/alur-ml/alur/proto/alur/orchestrator/v1"
	"github.com/alur-ml/alur/services/orchestrator/dashboard"
)

const modelsUsage = `
Usage:
  alur models register RUN_ID --name NAME [--description WHY] [--json]
  alur models list [--json]
  alur models show NAME[@VERSION|@ALIAS] [--json]
  alur models alias NAME@VERSION ALIAS [--reason WHY] [--json]
  alur models unalias NAME ALIAS
  alur models delete NAME@VERSION
  alur models export NAME[@VERSION|@ALIAS] -o FILE.onnx

The model registry keeps named models with immutable, numbered versions.
Registering a succeeded run records its final model and fitted transform as
the next version, with the run, the test score and who registered it. An
alias ("production", "staging", any lowercase name) points at one version
and moves atomically: the serve stage answers "NAME@ALIAS" with whatever
version the alias points at. A version cannot be deleted while an alias
points at it. "export" writes a version's fitted transform and model as one
ONNX file, to run in any ONNX runtime.

Promote and serve:
  alur models register RUN_ID --name churn
  alur models alias churn@1 production
  curl -d @rows.json localhost:8005/v2/models/churn@production/infer
`

func runModels(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 {
		return usageErrorf("models", "missing subcommand: register, list, show, alias, unalias, delete or export")
	}
	switch args[0] {
	case "register":
		return runModelsRegister(ctx, a, args[1:])
	case "list", "ls":
		return runModelsList(ctx, a, args[1:])
	case "show", "get":
		return runModelsShow(ctx, a, args[1:])
	case "alias":
		return runModelsAlias(ctx, a, args[1:])
	case "unalias":
		return runModelsUnalias(ctx, a, args[1:])
	case "delete", "rm":
		return runModelsDelete(ctx, a, args[1:])
	case "export":
		return runModelsExport(ctx, a, args[1:])
	case "-h", "-help", "--help", "help":
		printCommandHelp(a.stdout, flag.NewFlagSet("models", flag.ContinueOnError), modelsUsage)
		return flag.ErrHelp
	}
	return usageErrorf("models", "unknown subcommand %q (want register, list, show, alias, unalias, delete or export)", args[0])
}

// modelsCommand parses a models subcommand's client flags and --json,
// checks its positional argument count, and dials.
func modelsCommand(a *app, name, usage, what string, args []string, nargs int, extra func(fs *flag.FlagSet)) (*client, []string, bool, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var cf clientFlags
	cf.register(fs, a.getenv)
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	if extra != nil {
		extra(fs)
	}
	rest, err := parseFlags(a, fs, usage, args)
	if err != nil {
		return nil, nil, false, err
	}
	switch {
	case len(rest) < nargs:
		return nil, nil, false, usageErrorf(name, "missing %s", what)
	case len(rest) > nargs:
		return nil, nil, false, usageErrorf(name, "unexpected argument %q", rest[nargs])
	}
	if err := cf.validate(name); err != nil {
		return nil, nil, false, err
	}
	c, err := cf.dial()
	if err != nil {
		return nil, nil, false, err
	}
	return c, rest, *asJSON, nil
}

// currentUser names who runs the command, for the registry's record.
func currentUser(a *app) string {
	for _, k := range []string{"ALUR_USER", "USER", "USERNAME"} {
		if v := a.getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// splitVersionRef parses NAME@VERSION.
func splitVersionRef(cmd, ref string) (string, int64, error) {
	name, v, ok := strings.Cut(ref, "@")
	n, err := strconv.ParseInt(v, 10, 64)
	if !ok || name == "" || err != nil || n < 1 {
		return "", 0, usageErrorf(cmd, "%q: want NAME@VERSION, such as churn@3", ref)
	}
	return name, n, nil
}

func runModelsRegister(ctx context.Context, a *app, args []string) error {
	var name, description string
	c, rest, asJSON, err := modelsCommand(a, "models register", "Usage:\n  alur models register RUN_ID --name NAME [--description WHY] [--json]\n\nRegisters a succeeded run's final model and fitted transform as the next version of NAME.", "RUN_ID", args, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "the registered model's `name` (required)")
		fs.StringVar(&description, "description", "", "why this version is registered, for the record")
	})
	if err != nil {
		return err
	}
	defer c.Close()
	if name == "" {
		return usageErrorf("models register", "--name is required")
	}
	cctx, cancel := c.callCtx(ctx)
	defer cancel()
	resp, err := c.orch.RegisterModel(cctx, &orchestratorv1.RegisterModelRequest{RunId: rest[0], Name: name, CreatedBy: currentUser(a), Description: description})
	if err != nil {
		return c.wrap("RegisterModel", err)
	}
	if asJSON {
		return printJSON(a.stdout, resp)
	}
	v := resp.GetVersion()
	fmt.Fprintf(a.stdout, "Registered %s version %d (%s from run %s).\n", v.GetName(), v.GetVersion(), v.GetAlgorithm(), v.GetRunId())
	fmt.Fprintf(a.stdout, "Promote it: alur models alias %s@%d production\n", v.GetName(), v.GetVersion())
	return nil
}

func runModelsList(ctx context.Context, a *app, args []string) error {
	c, _, asJSON, err := modelsCommand(a, "models list", "Usage:\n  alur models list [--json]\n\nLists the registered models with their newest version and aliases.", "", args, 0, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	cctx, cancel := c.callCtx(ctx)
	defer cancel()
	resp, err := c.orch.ListModels(cctx, &orchestratorv1.ListModelsRequest{})
	if err != nil {
		return c.wrap("ListModels", err)
	}
	if asJSON {
		return printJSON(a.stdout, resp)
	}
	writeModelList(a.stdout, resp.GetModels())
	return nil
}

func writeModelList(w io.Writer, models []*orchestratorv1.RegisteredModel) {
	if len(models) == 0 {
		fmt.Fprintln(w, "No registered models. Register one: alur models register RUN_ID --name NAME")
		return
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "NAME\tLATEST\tALGORITHM\tTEST SCORE\tALIASES")
	for _, m := range models {
		algo, score := "-", "-"
		if vs := m.GetVersions(); len(vs) > 0 {
			algo = vs[0].GetAlgorithm()
			score = versionScore(vs[0])
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", m.GetName(), m.GetLatestVersion(), algo, score, aliasList(m.GetAliases()))
	}
	_ = tw.Flush()
}

func versionScore(v *orchestratorv1.ModelVersion) string {
	if v.TestScore == nil {
		return "-"
	}
	return v.GetMetric() + " " + fmtScore(v.GetTestScore())
}

func aliasList(as []*orchestratorv1.ModelAlias) string {
	if len(as) == 0 {
		return "-"
	}
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = fmt.Sprintf("%s→%d", a.GetAlias(), a.GetVersion())
	}
	return strings.Join(parts, " ")
}

func runModelsShow(ctx context.Context, a *app, args []string) error {
	c, rest, asJSON, err := modelsCommand(a, "models show", "Usage:\n  alur models show NAME[@VERSION|@ALIAS] [--json]\n\nShows a model's versions and aliases, and the version the reference names.", "NAME", args, 1, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	cctx, cancel := c.callCtx(ctx)
	defer cancel()
	resp, err := c.orch.GetModel(cctx, &orchestratorv1.GetModelRequest{Ref: rest[0]})
	if err != nil {
		return c.wrap("GetModel", err)
	}
	if asJSON {
		return printJSON(a.stdout, resp)
	}
	writeModelDetails(a.stdout, resp.GetModel(), resp.GetVersion())
	return nil
}

func writeModelDetails(w io.Writer, m *orchestratorv1.RegisteredModel, sel *orchestratorv1.ModelVersion) {
	fmt.Fprintf(w, "Model %s: %d version(s) left of %d, created %s\n\n", m.GetName(), len(m.GetVersions()), m.GetLatestVersion(), fmtTime(m.GetCreateTime()))
	tw := newTable(w)
	fmt.Fprintln(tw, "VERSION\tCREATED\tBY\tRUN\tALGORITHM\tTEST SCORE\tALIASES\tDESCRIPTION")
	for _, v := range m.GetVersions() {
		by := v.GetCreatedBy()
		if by == "" {
			by = "-"
		}
		aliases := strings.Join(v.GetAliases(), ",")
		if aliases == "" {
			aliases = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.GetVersion(), fmtTime(v.GetCreateTime()), by, v.GetRunId(),
			v.GetAlgorithm(), versionScore(v), aliases, truncate(v.GetDescription(), 40))
	}
	_ = tw.Flush()
	if sel == nil {
		return
	}
	fmt.Fprintf(w, "\nVersion %d: %s, predicts %q (%s)\n", sel.GetVersion(), sel.GetAlgorithm(), sel.GetLabel(), taskWord(sel.GetTask()))
	if len(sel.GetClassNames()) > 0 {
		fmt.Fprintf(w, "  classes: %s\n", strings.Join(sel.GetClassNames(), ", "))
	}
	var cols []string
	for _, f := range sel.GetInputSchema().GetFields() {
		cols = append(cols, fmt.Sprintf("%s (%s)", f.GetName(), enumWord(f.GetType().String(), "COLUMN_TYPE_")))
	}
	fmt.Fprintf(w, "  inputs:  %s\n", strings.Join(cols, ", "))
	fmt.Fprintf(w, "  model:   %s (%s)\n  transform: %s\n", sel.GetModelDigest(), fmtSize(sel.GetModelSize()), sel.GetTransformDigest())
	if d := sel.GetDataset(); d != nil {
		fmt.Fprintf(w, "  dataset: %s@%d\n", d.GetName(), d.GetVersion())
	}
}

func runModelsAlias(ctx context.Context, a *app, args []string) error {
	var reason string
	c, rest, asJSON, err := modelsCommand(a, "models alias", "Usage:\n  alur models alias NAME@VERSION ALIAS [--reason WHY] [--json]\n\nPoints ALIAS at a version, moving it from where it pointed before.", "NAME@VERSION and ALIAS", args, 2, func(fs *flag.FlagSet) {
		fs.StringVar(&reason, "reason", "", "why the alias moves, for the record")
	})
	if err != nil {
		return err
	}
	defer c.Close()
	name, version, err := splitVersionRef("models alias", rest[0])
	if err != nil {
		return err
	}
	cctx, cancel := c.callCtx(ctx)
	defer cancel()
	resp, err := c.orch.SetModelAlias(cctx, &orchestratorv1.SetModelAliasRequest{Name: name, Alias: rest[1], Version: version, UpdatedBy: currentUser(a), Reason: reason})
	if err != nil {
		return c.wrap("SetModelAlias", err)
	}
	if asJSON {
		return printJSON(a.stdout, resp)
	}
	al := resp.GetAlias()
	if al.GetPreviousVersion() != 0 && al.GetPreviousVersion() != al.GetVersion() {
		fmt.Fprintf(a.stdout, "%s@%s now points at version %d (was %d).\n", name, al.GetAlias(), al.GetVersion(), al.GetPreviousVersion())
	} else {
		fmt.Fprintf(a.stdout, "%s@%s now points at version %d.\n", name, al.GetAlias(), al.GetVersion())
	}
	return nil
}

func runModelsUnalias(ctx context.Context, a *app, args []string) error {
	c, rest, _, err := modelsCommand(a, "models unalias", "Usage:\n  alur models unalias NAME ALIAS\n\nRemoves an alias.", "NAME and ALIAS", args, 2, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	cctx, cancel := c.callCtx(ctx)
	defer cancel()
	if _, err := c.orch.SetModelAlias(cctx, &orchestratorv1.SetModelAliasRequest{Name: rest[0], Alias: rest[1], UpdatedBy: currentUser(a)}); err != nil {
		return c.wrap("SetModelAlias", err)
	}
	fmt.Fprintf(a.stdout, "Removed alias %s of %s.\n", rest[1], rest[0])
	return nil
}

func runModelsDelete(ctx context.Context, a *app, args []string) error {
	c, rest, asJSON, err := modelsCommand(a, "models delete", "Usage:\n  alur models delete NAME@VERSION [--json]\n\nDeletes a version no alias points at.", "NAME@VERSION", args, 1, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	name, version, err := splitVersionRef("models delete", rest[0])
	if err != nil {
		return err
	}
	cctx, cancel := c.callCtx(ctx)
	defer cancel()
	resp, err := c.orch.DeleteModelVersion(cctx, &orchestratorv1.DeleteModelVersionRequest{Name: name, Version: version})
	if err != nil {
		return c.wrap("DeleteModelVersion", err)
	}
	if asJSON {
		return printJSON(a.stdout, resp)
	}
	fmt.Fprintf(a.stdout, "Deleted %s version %d.\n", name, version)
	return nil
}

const modelsExportUsage = `
Usage:
  alur models export NAME[@VERSION|@ALIAS] -o FILE.onnx

Writes the version's fitted transform and model as one ONNX model. Its
inputs are the raw columns, each of shape [N, 1]: DOUBLE for numbers and
booleans (NaN for missing), STRING for categories. A classifier answers
"label" (STRING [N]) and "probabilities" (DOUBLE [N, classes]); a
regressor "prediction" (DOUBLE [N, 1]). Linear models, naive Bayes, trees,
random forests, extremely randomized trees, gradient boosting and k-nearest
neighbours export; distance-weighted k-NN does not.
`

func runModelsExport(ctx context.Context, a *app, args []string) error {
	var out string
	c, rest, _, err := modelsCommand(a, "models export", modelsExportUsage, "NAME[@VERSION|@ALIAS]", args, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&out, "o", "", "output `file` (required; - for stdout)")
	})
	if err != nil {
		return err
	}
	defer c.Close()
	if out == "" {
		return usageErrorf("models export", "-o FILE is required")
	}
	cctx, cancel := c.callCtx(ctx)
	defer cancel()
	resp, err := c.orch.GetModel(cctx, &orchestratorv1.GetModelRequest{Ref: rest[0]})
	if err != nil {
		return c.wrap("GetModel", err)
	}
	v := resp.GetVersion()
	src := dashboard.ClientSource(c.orch)
	mb, err := src.ReadArtifact(cctx, v.GetModelDigest())
	if err != nil {
		return c.wrap("GetArtifact", err)
	}
	tb, err := src.ReadArtifact(cctx, v.GetTransformDigest())
	if err != nil {
		return c.wrap("GetArtifact", err)
	}
	m, tr := &datav1.Model{}, &datav1.FittedTransform{}
	if err := proto.Unmarshal(mb, m); err != nil {
		return fmt.Errorf("decode the model %s: %w", shortDigest(v.GetModelDigest()), err)
	}
	if err := proto.Unmarshal(tb, tr); err != nil {
		return fmt.Errorf("decode the transform %s: %w", shortDigest(v.GetTransformDigest()), err)
	}
	b, inputs, err := onnx.Export(tr, m, fmt.Sprintf("%s_v%d", v.GetName(), v.GetVersion()))
	if err != nil {
		return fmt.Errorf("export %s version %d: %w", v.GetName(), v.GetVersion(), err)
	}
	if out == "-" {
		_, err := a.stdout.Write(b)
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return err
	}
	names := make([]string, len(inputs))
	for i, in := range inputs {
		names[i] = in.Name
	}
	fmt.Fprintf(a.stdout, "Wrote %s: %s version %d (%s), %s, inputs %s.\n", out, v.GetName(), v.GetVersion(), v.GetAlgorithm(), fmtSize(int64(len(b))), strings.Join(names, ", "))
	return nil
}
