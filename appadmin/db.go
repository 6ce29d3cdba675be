package appadmin

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mgx-dev/mgx/httpjson"
)

// Operators that run JavaScript on the server: never accepted from the browser.
var forbiddenOps = map[string]bool{"$where": true, "$function": true, "$accumulator": true, "$eval": true}

const maxQueryLimit = 500

func (h *Handler) maxDoc() int64 {
	if h.MaxDocumentBytes > 0 {
		return h.MaxDocumentBytes
	}
	return 1 << 20
}

func (h *Handler) listCollections(w http.ResponseWriter, r *http.Request, t target) {
	db := h.AppsDB(t.app.Slug)
	names, err := db.ListCollectionNames(r.Context(), bson.D{})
	if err != nil {
		h.internal(w, r, err)
		return
	}
	sort.Strings(names)
	type coll struct {
		Name  string `json:"name"`
		Count int64  `json:"count"`
	}
	out := []coll{}
	for _, n := range names {
		if strings.HasPrefix(n, "system.") {
			continue
		}
		c, err := db.Collection(n).CountDocuments(r.Context(), bson.D{})
		if err != nil {
			h.internal(w, r, err)
			return
		}
		out = append(out, coll{n, c})
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"database": db.Name(), "collections": out})
}

// collection checks {name}; a bad name is a 400, not a collection created by accident.
func (h *Handler) collection(w http.ResponseWriter, r *http.Request, t target) (*mongo.Collection, bool) {
	name := r.PathValue("name")
	if err := validCollectionName(name); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "invalid_collection", err.Error())
		return nil, false
	}
	return h.AppsDB(t.app.Slug).Collection(name), true
}

func validCollectionName(name string) error {
	switch {
	case name == "":
		return errors.New("collection name is empty")
	case len(name) > 120:
		return errors.New("collection name is longer than 120 bytes")
	case strings.ContainsAny(name, "$\x00"):
		return fmt.Errorf("collection name %q contains $ or NUL", name)
	case strings.HasPrefix(name, "system."):
		return fmt.Errorf("collection %q is a system collection", name)
	}
	return nil
}

// parseQueryParam reads an Extended JSON object from a query parameter.
func parseQueryParam(r *http.Request, key string) (bson.D, error) {
	s := r.URL.Query().Get(key)
	if s == "" {
		return bson.D{}, nil
	}
	return parseDocument([]byte(s), key)
}

// parseDocument parses an Extended JSON object and refuses server-side JavaScript.
func parseDocument(b []byte, what string) (bson.D, error) {
	var d bson.D
	if err := bson.UnmarshalExtJSON(b, false, &d); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object: %v", what, err)
	}
	if err := refuseJS(d, what); err != nil {
		return nil, err
	}
	return d, nil
}

func refuseJS(v any, what string) error {
	switch x := v.(type) {
	case bson.D:
		for _, e := range x {
			if forbiddenOps[e.Key] {
				return fmt.Errorf("%s uses %s: server-side JavaScript is not allowed", what, e.Key)
			}
			if err := refuseJS(e.Value, what); err != nil {
				return err
			}
		}
	case bson.A:
		for _, e := range x {
			if err := refuseJS(e, what); err != nil {
				return err
			}
		}
	case bson.JavaScript, bson.CodeWithScope:
		return fmt.Errorf("%s contains JavaScript code: not allowed", what)
	}
	return nil
}

// docJSON renders a document as relaxed Extended JSON ({"$oid": …}, {"$date": …}).
func docJSON(raw bson.Raw) (json.RawMessage, error) {
	b, err := bson.MarshalExtJSON(raw, false, false)
	return json.RawMessage(b), err
}

func (h *Handler) findDocuments(w http.ResponseWriter, r *http.Request, t target) {
	coll, ok := h.collection(w, r, t)
	if !ok {
		return
	}
	filter, err1 := parseQueryParam(r, "filter")
	sortD, err2 := parseQueryParam(r, "sort")
	proj, err3 := parseQueryParam(r, "projection")
	limit, err4 := intParam(r.URL.Query().Get("limit"), 50)
	skip, err5 := intParam(r.URL.Query().Get("skip"), 0)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "bad_query", err.Error())
		return
	}
	limit = min(max(limit, 1), maxQueryLimit)
	opts := options.Find().SetLimit(int64(limit)).SetSkip(int64(skip))
	if len(sortD) > 0 {
		opts.SetSort(sortD)
	}
	if len(proj) > 0 {
		opts.SetProjection(proj)
	}
	ctx := r.Context()
	cur, err := coll.Find(ctx, filter, opts)
	if err != nil {
		h.queryError(w, r, err)
		return
	}
	defer cur.Close(ctx)
	docs := []json.RawMessage{}
	for cur.Next(ctx) {
		j, err := docJSON(cur.Current)
		if err != nil {
			h.internal(w, r, err)
			return
		}
		docs = append(docs, j)
	}
	if err := cur.Err(); err != nil {
		h.queryError(w, r, err)
		return
	}
	total, err := coll.CountDocuments(ctx, filter)
	if err != nil {
		h.queryError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"documents": docs, "total": total, "limit": limit, "skip": skip})
}

// readBody reads an Extended JSON document body within the size limit.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) (bson.D, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxDoc()))
	if err != nil {
		httpjson.Error(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("document over %d bytes", h.maxDoc()))
		return nil, false
	}
	d, err := parseDocument(b, "document")
	if err != nil {
		httpjson.Error(w, http.StatusBadRequest, "invalid_document", err.Error())
		return nil, false
	}
	for _, e := range d {
		if strings.HasPrefix(e.Key, "$") {
			httpjson.Error(w, http.StatusBadRequest, "invalid_document", fmt.Sprintf("field %q: top-level field names may not start with $", e.Key))
			return nil, false
		}
	}
	return d, true
}

func (h *Handler) insertDocument(w http.ResponseWriter, r *http.Request, t target) {
	coll, ok := h.collection(w, r, t)
	if !ok {
		return
	}
	d, ok := h.readBody(w, r)
	if !ok {
		return
	}
	res, err := coll.InsertOne(r.Context(), d)
	if err != nil {
		h.queryError(w, r, err)
		return
	}
	h.audit(r.Context(), t, "db.insert", coll.Name(), bson.M{"id": res.InsertedID})
	id, _ := bson.MarshalExtJSON(bson.D{{Key: "id", Value: res.InsertedID}}, false, false)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(id)
}

// idFilter matches {id} as an ObjectId when it looks like one, and as a string too.
func idFilter(id string) bson.D {
	if len(id) == 24 {
		if _, err := hex.DecodeString(id); err == nil {
			if oid, err := bson.ObjectIDFromHex(id); err == nil {
				return bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{oid, id}}}}}
			}
		}
	}
	return bson.D{{Key: "_id", Value: id}}
}

func (h *Handler) getDocument(w http.ResponseWriter, r *http.Request, t target) {
	coll, ok := h.collection(w, r, t)
	if !ok {
		return
	}
	raw, err := coll.FindOne(r.Context(), idFilter(r.PathValue("id"))).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		httpjson.Error(w, http.StatusNotFound, "not_found", "no such document")
		return
	}
	if err != nil {
		h.queryError(w, r, err)
		return
	}
	j, err := docJSON(raw)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(j)
}

func (h *Handler) replaceDocument(w http.ResponseWriter, r *http.Request, t target) {
	coll, ok := h.collection(w, r, t)
	if !ok {
		return
	}
	d, ok := h.readBody(w, r)
	if !ok {
		return
	}
	// The _id may be repeated in the body but not changed.
	out := d[:0:0]
	for _, e := range d {
		if e.Key != "_id" {
			out = append(out, e)
		}
	}
	res, err := coll.ReplaceOne(r.Context(), idFilter(r.PathValue("id")), out)
	if err != nil {
		h.queryError(w, r, err)
		return
	}
	if res.MatchedCount == 0 {
		httpjson.Error(w, http.StatusNotFound, "not_found", "no such document")
		return
	}
	h.audit(r.Context(), t, "db.replace", coll.Name(), bson.M{"id": r.PathValue("id")})
	h.getDocument(w, r, t)
}

func (h *Handler) deleteDocument(w http.ResponseWriter, r *http.Request, t target) {
	coll, ok := h.collection(w, r, t)
	if !ok {
		return
	}
	res, err := coll.DeleteOne(r.Context(), idFilter(r.PathValue("id")))
	if err != nil {
		h.queryError(w, r, err)
		return
	}
	if res.DeletedCount == 0 {
		httpjson.Error(w, http.StatusNotFound, "not_found", "no such document")
		return
	}
	h.audit(r.Context(), t, "db.delete", coll.Name(), bson.M{"id": r.PathValue("id")})
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) listIndexes(w http.ResponseWriter, r *http.Request, t target) {
	coll, ok := h.collection(w, r, t)
	if !ok {
		return
	}
	cur, err := coll.Indexes().List(r.Context())
	if err != nil {
		h.queryError(w, r, err)
		return
	}
	defer cur.Close(r.Context())
	out := []json.RawMessage{}
	for cur.Next(r.Context()) {
		j, err := docJSON(cur.Current)
		if err != nil {
			h.internal(w, r, err)
			return
		}
		out = append(out, j)
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"indexes": out})
}

func (h *Handler) createIndex(w http.ResponseWriter, r *http.Request, t target) {
	coll, ok := h.collection(w, r, t)
	if !ok {
		return
	}
	var in struct {
		Keys   json.RawMessage `json:"keys"`
		Name   string          `json:"name"`
		Unique bool            `json:"unique"`
	}
	if httpjson.Decode(w, r, &in, 16<<10) != nil {
		return
	}
	keys, err := parseDocument(in.Keys, "keys")
	if err != nil || len(keys) == 0 {
		httpjson.Error(w, http.StatusBadRequest, "invalid_index", `keys must be a non-empty object like {"email": 1}`)
		return
	}
	for _, k := range keys {
		switch v := k.Value.(type) {
		case int32, int64, float64:
			if fmt.Sprint(v) != "1" && fmt.Sprint(v) != "-1" {
				httpjson.Error(w, http.StatusBadRequest, "invalid_index", fmt.Sprintf("key %q: want 1 or -1", k.Key))
				return
			}
		default:
			httpjson.Error(w, http.StatusBadRequest, "invalid_index", fmt.Sprintf("key %q: want 1 or -1", k.Key))
			return
		}
	}
	opts := options.Index().SetUnique(in.Unique)
	if in.Name != "" {
		opts.SetName(in.Name)
	}
	name, err := coll.Indexes().CreateOne(r.Context(), mongo.IndexModel{Keys: keys, Options: opts})
	if err != nil {
		h.queryError(w, r, err)
		return
	}
	h.audit(r.Context(), t, "db.index.create", coll.Name(), bson.M{"index": name})
	httpjson.Write(w, http.StatusCreated, map[string]string{"name": name})
}

func (h *Handler) dropIndex(w http.ResponseWriter, r *http.Request, t target) {
	coll, ok := h.collection(w, r, t)
	if !ok {
		return
	}
	name := r.PathValue("index")
	if name == "_id_" {
		httpjson.Error(w, http.StatusBadRequest, "invalid_index", "the _id index cannot be dropped")
		return
	}
	if err := coll.Indexes().DropOne(r.Context(), name); err != nil {
		h.queryError(w, r, err)
		return
	}
	h.audit(r.Context(), t, "db.index.drop", coll.Name(), bson.M{"index": name})
	w.WriteHeader(http.StatusNoContent)
}

// exportCollection streams the whole collection as a JSON array (relaxed Extended JSON).
func (h *Handler) exportCollection(w http.ResponseWriter, r *http.Request, t target) {
	coll, ok := h.collection(w, r, t)
	if !ok {
		return
	}
	cur, err := coll.Find(r.Context(), bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		h.queryError(w, r, err)
		return
	}
	defer cur.Close(r.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.json"`, t.app.Slug, coll.Name()))
	_, _ = io.WriteString(w, "[")
	first := true
	for cur.Next(r.Context()) {
		j, err := docJSON(cur.Current)
		if err != nil {
			break // headers are sent: the truncated array tells the client
		}
		if !first {
			_, _ = io.WriteString(w, ",\n")
		}
		first = false
		_, _ = w.Write(j)
	}
	_, _ = io.WriteString(w, "]\n")
}

// queryError turns the server's refusals (unknown operator, bad sort, duplicate key)
// into 400s with its reason; anything else is a 500.
func (h *Handler) queryError(w http.ResponseWriter, r *http.Request, err error) {
	if mongo.IsDuplicateKeyError(err) {
		httpjson.Error(w, http.StatusBadRequest, "duplicate_key", "a document with that key already exists: "+err.Error())
		return
	}
	var se mongo.ServerError
	if errors.As(err, &se) {
		httpjson.Error(w, http.StatusBadRequest, "query_refused", err.Error())
		return
	}
	h.internal(w, r, err)
}
