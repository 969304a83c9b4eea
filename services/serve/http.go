package serve

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/alur-ml/alur/proto/inference"
)

// MaxHTTPBodyBytes bounds one HTTP/JSON request body.
const MaxHTTPBodyBytes = 64 << 20

// Handler serves the protocol's HTTP/JSON form:
//
//	GET  /v2/health/live, /v2/health/ready
//	GET  /v2                                     server metadata
//	GET  /v2/models/{name}[/versions/{version}]  model metadata
//	GET  /v2/models/{name}[/versions/{version}]/ready
//	POST /v2/models/{name}[/versions/{version}]/infer
//
// The name may carry the version as "name@version" or "name@alias". Errors
// answer {"error": "..."} with the HTTP status matching the gRPC code.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"live": true})
	})
	mux.HandleFunc("GET /v2/health/ready", func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusOK
		if !s.ready.Load() {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]bool{"ready": s.ready.Load()})
	})
	mux.HandleFunc("GET /v2", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"name": ServerName, "version": ServerVersion, "extensions": []string{}})
	})
	for _, prefix := range []string{"/v2/models/{name}", "/v2/models/{name}/versions/{version}"} {
		mux.HandleFunc("GET "+prefix, s.httpMetadata)
		mux.HandleFunc("GET "+prefix+"/ready", s.httpModelReady)
		mux.HandleFunc("POST "+prefix+"/infer", s.httpInfer)
	}
	return mux
}

func (s *Server) httpMetadata(w http.ResponseWriter, r *http.Request) {
	resp, err := s.ModelMetadata(r.Context(), &inference.ModelMetadataRequest{Name: r.PathValue("name"), Version: r.PathValue("version")})
	if err != nil {
		writeError(w, err)
		return
	}
	type tensor struct {
		Name     string  `json:"name"`
		Datatype string  `json:"datatype"`
		Shape    []int64 `json:"shape"`
	}
	conv := func(ts []*inference.ModelMetadataResponse_TensorMetadata) []tensor {
		out := make([]tensor, len(ts))
		for i, t := range ts {
			out[i] = tensor{t.GetName(), t.GetDatatype(), t.GetShape()}
		}
		return out
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name": resp.GetName(), "versions": resp.GetVersions(), "platform": resp.GetPlatform(),
		"inputs": conv(resp.GetInputs()), "outputs": conv(resp.GetOutputs()),
	})
}

func (s *Server) httpModelReady(w http.ResponseWriter, r *http.Request) {
	resp, err := s.ModelReady(r.Context(), &inference.ModelReadyRequest{Name: r.PathValue("name"), Version: r.PathValue("version")})
	if err != nil {
		writeError(w, err)
		return
	}
	code := http.StatusOK
	if !resp.GetReady() {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"name": r.PathValue("name"), "ready": resp.GetReady()})
}

// jsonTensor is a tensor in the protocol's JSON form. Data may be flat or
// nested row-major arrays.
type jsonTensor struct {
	Name       string         `json:"name"`
	Shape      []int64        `json:"shape,omitempty"`
	Datatype   string         `json:"datatype,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Data       any            `json:"data,omitempty"`
}

type jsonInferRequest struct {
	ID         string         `json:"id,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Inputs     []jsonTensor   `json:"inputs"`
	Outputs    []jsonTensor   `json:"outputs,omitempty"`
}

type jsonInferResponse struct {
	ModelName    string       `json:"model_name"`
	ModelVersion string       `json:"model_version"`
	ID           string       `json:"id,omitempty"`
	Outputs      []jsonTensor `json:"outputs"`
}

func (s *Server) httpInfer(w http.ResponseWriter, r *http.Request) {
	var body jsonInferRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxHTTPBodyBytes))
	if err := dec.Decode(&body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("the body exceeds %d bytes", MaxHTTPBodyBytes)})
			return
		}
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the body is not an inference request: " + err.Error()})
		return
	}
	req := &inference.ModelInferRequest{ModelName: r.PathValue("name"), ModelVersion: r.PathValue("version"), Id: body.ID}
	for i, in := range body.Inputs {
		t, err := tensorFromJSON(in, i)
		if err != nil {
			writeError(w, err)
			return
		}
		req.Inputs = append(req.Inputs, t)
	}
	for _, o := range body.Outputs {
		req.Outputs = append(req.Outputs, &inference.ModelInferRequest_InferRequestedOutputTensor{Name: o.Name})
	}
	resp, err := s.ModelInfer(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	out := jsonInferResponse{ModelName: resp.GetModelName(), ModelVersion: resp.GetModelVersion(), ID: resp.GetId()}
	for _, o := range resp.GetOutputs() {
		jt := jsonTensor{Name: o.GetName(), Shape: o.GetShape(), Datatype: o.GetDatatype()}
		c := o.GetContents()
		switch o.GetDatatype() {
		case typeBYTES:
			strs := make([]string, len(c.GetBytesContents()))
			for i, b := range c.GetBytesContents() {
				strs[i] = string(b)
			}
			jt.Data = strs
		default:
			jt.Data = c.GetFp64Contents()
		}
		for k, p := range o.GetParameters() {
			if jt.Parameters == nil {
				jt.Parameters = map[string]any{}
			}
			jt.Parameters[k] = p.GetStringParam()
		}
		out.Outputs = append(out.Outputs, jt)
	}
	writeJSON(w, http.StatusOK, out)
}

// tensorFromJSON converts one JSON input into a protocol tensor, flattening
// nested data and checking each element suits the datatype.
func tensorFromJSON(in jsonTensor, i int) (*inference.ModelInferRequest_InferInputTensor, error) {
	field := fmt.Sprintf("inputs[%d]", i)
	var flat []any
	var walk func(v any)
	walk = func(v any) {
		if a, ok := v.([]any); ok {
			for _, e := range a {
				walk(e)
			}
			return
		}
		flat = append(flat, v)
	}
	walk(in.Data)
	t := &inference.ModelInferRequest_InferInputTensor{Name: in.Name, Datatype: in.Datatype, Shape: in.Shape, Contents: &inference.InferTensorContents{}}
	c := t.Contents
	bad := func(j int, v any, want string) error {
		return status.Errorf(codes.InvalidArgument, "%s.data: input %q element %d is %v, not %s (datatype %s)", field, in.Name, j, v, want, in.Datatype)
	}
	for j, v := range flat {
		switch in.Datatype {
		case typeBYTES:
			s, ok := v.(string)
			if !ok {
				return nil, bad(j, v, "a string")
			}
			c.BytesContents = append(c.BytesContents, []byte(s))
		case typeBOOL:
			b, ok := v.(bool)
			if !ok {
				return nil, bad(j, v, "a boolean")
			}
			c.BoolContents = append(c.BoolContents, b)
		case typeFP64, typeFP32:
			// JSON has no NaN: null stands for a missing value.
			f, ok := v.(float64)
			if v == nil {
				f, ok = math.NaN(), true
			}
			if !ok {
				return nil, bad(j, v, "a number")
			}
			if in.Datatype == typeFP64 {
				c.Fp64Contents = append(c.Fp64Contents, f)
			} else {
				c.Fp32Contents = append(c.Fp32Contents, float32(f))
			}
		case typeINT64, typeINT32:
			f, ok := v.(float64)
			if !ok || f != math.Trunc(f) {
				return nil, bad(j, v, "an integer")
			}
			if in.Datatype == typeINT64 {
				c.Int64Contents = append(c.Int64Contents, int64(f))
			} else {
				c.IntContents = append(c.IntContents, int32(f))
			}
		default:
			// ModelInfer names the accepted types for the column.
			return t, nil
		}
	}
	return t, nil
}

// httpStatus maps a gRPC code to the HTTP status of the protocol's REST
// form.
func httpStatus(c codes.Code) int {
	switch c {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.NotFound:
		return http.StatusNotFound
	case codes.ResourceExhausted:
		return http.StatusRequestEntityTooLarge
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, err error) {
	st := status.Convert(err)
	writeJSON(w, httpStatus(st.Code()), map[string]string{"error": st.Message()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// ServeHTTP serves h on lis until ctx ends, then shuts down gracefully.
// With certFile and keyFile (the gRPC server's --tls-cert and --tls-key)
// it serves HTTPS.
func ServeHTTP(ctx context.Context, lis net.Listener, h http.Handler, logger *slog.Logger, certFile, keyFile string) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() {
		if certFile != "" || keyFile != "" {
			errc <- srv.ServeTLS(lis, certFile, keyFile)
			return
		}
		errc <- srv.Serve(lis)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("http shutdown", "err", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// RequireToken wraps h so that every request but the health probes must
// carry "Authorization: Bearer <token>", as the gRPC side requires. An
// empty token leaves h open.
func RequireToken(h http.Handler, token string) http.Handler {
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/health/live" || r.URL.Path == "/v2/health/ready" ||
			subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) == 1 {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
	})
}
