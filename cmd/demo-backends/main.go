// Command demo-backends runs three small JSON services on loopback (users,
// orders, notifications) for the gateway's demo configuration,
// config/demo.yaml. Each answers /health and echoes the headers a backend
// behind the gateway receives, so curl shows what the gateway adds and
// strips.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	users := flag.String("users", "127.0.0.1:9001", "users service address")
	orders := flag.String("orders", "127.0.0.1:9002", "orders service address")
	notifications := flag.String("notifications", "127.0.0.1:9003", "notifications service address")
	flag.Parse()

	for addr, h := range map[string]http.Handler{
		*users:         usersService(),
		*orders:        ordersService(),
		*notifications: notificationsService(),
	} {
		srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.ListenAndServe(); err != nil {
				log.Fatalf("demo backend %s: %v", addr, err)
			}
		}()
	}
	log.Printf("demo backends: users %s, orders %s, notifications %s", *users, *orders, *notifications)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}

type user struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

var demoUsers = []user{{"1", "Ada Lovelace"}, {"2", "Grace Hopper"}, {"3", "Barbara Liskov"}}

func usersService() http.Handler {
	mux := health("users")
	mux.HandleFunc("GET /users", func(w http.ResponseWriter, r *http.Request) {
		reply(w, r, http.StatusOK, map[string]any{"users": demoUsers})
	})
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		for _, u := range demoUsers {
			if u.ID == r.PathValue("id") {
				reply(w, r, http.StatusOK, u)
				return
			}
		}
		reply(w, r, http.StatusNotFound, map[string]string{"error": "no such user"})
	})
	mux.HandleFunc("POST /users", func(w http.ResponseWriter, r *http.Request) {
		var u user
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&u); err != nil {
			reply(w, r, http.StatusBadRequest, map[string]string{"error": "body must be a JSON user"})
			return
		}
		u.ID = "42"
		reply(w, r, http.StatusCreated, u)
	})
	return mux
}

func ordersService() http.Handler {
	mux := health("orders")
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		reply(w, r, http.StatusOK, map[string]any{"id": r.PathValue("id"), "status": "shipped", "total_cents": 4200})
	})
	mux.HandleFunc("GET /orders", func(w http.ResponseWriter, r *http.Request) {
		reply(w, r, http.StatusOK, map[string]any{"orders": []string{"1001", "1002"}})
	})
	return mux
}

func notificationsService() http.Handler {
	mux := health("notifications")
	mux.HandleFunc("GET /notifications", func(w http.ResponseWriter, r *http.Request) {
		reply(w, r, http.StatusOK, map[string]any{"user": r.URL.Query().Get("user"), "unread": 3})
	})
	return mux
}

func health(name string) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(name + " ok\n"))
	})
	return mux
}

// reply writes v as JSON along with what the backend saw of the request.
func reply(w http.ResponseWriter, r *http.Request, status int, v any) {
	seen := map[string]string{"path": r.URL.RequestURI()}
	for name, vals := range r.Header {
		if strings.HasPrefix(name, "X-") {
			seen[strings.ToLower(name)] = strings.Join(vals, ", ")
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Server", "demo-backend")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"data": v, "backend_saw": seen})
}
