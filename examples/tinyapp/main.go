// Command tinyapp is a small HTTP service that knows nothing of meshsim: the
// kind of application a user brings to a rehearsal. It answers every path
// with its version, answers /health, and on SIGTERM either drains (keeps
// serving for -drain, then finishes the requests in flight and exits) or,
// with -sigterm=exit, exits at once, as a service that mishandles SIGTERM
// does.
//
// It listens on $HOST:$PORT (ECS-style; default 0.0.0.0:8080) and reports
// $APP_VERSION in its answers. It sets no meshsim header: meshsim's data
// plane tells which version served each request.
//
//	go build -o bin/tinyapp ./examples/tinyapp
//	HOST=127.0.0.1 PORT=8080 APP_VERSION=v1 bin/tinyapp -latency 20ms
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	sigterm := flag.String("sigterm", "drain", `what SIGTERM does: "drain" (keep serving for -drain, then finish the requests in flight) or "exit" (exit at once)`)
	drain := flag.Duration("drain", 500*time.Millisecond, "how long to keep serving after SIGTERM, while the load balancers stop sending")
	latency := flag.Duration("latency", 0, "how long each answer takes")
	startDelay := flag.Duration("start-delay", 0, "how long to wait before listening")
	logRequests := flag.Bool("log-requests", false, `log each request but /health to stderr: "request METHOD URI BODY-BYTES"`)
	flag.Parse()
	if *sigterm != "drain" && *sigterm != "exit" {
		log.Fatalf("-sigterm %q: want drain or exit", *sigterm)
	}
	if err := run(*sigterm, *drain, *latency, *startDelay, *logRequests); err != nil {
		log.Fatal(err)
	}
}

func run(sigterm string, drain, latency, startDelay time.Duration, logRequests bool) error {
	host, port := os.Getenv("HOST"), os.Getenv("PORT")
	if host == "" {
		host = "0.0.0.0"
	}
	if port == "" {
		port = "8080"
	}
	version := os.Getenv("APP_VERSION")
	terms := make(chan os.Signal, 1)
	signal.Notify(terms, syscall.SIGTERM, os.Interrupt)
	time.Sleep(startDelay)

	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if logRequests {
			n, _ := io.Copy(io.Discard, r.Body)
			log.Printf("request %s %s %d", r.Method, r.URL.RequestURI(), n)
		}
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, "tinyapp %s\n", version)
	})
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return err
	}
	log.Printf("tinyapp %s listening on %s (SIGTERM: %s)", version, ln.Addr(), sigterm)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return err
	case sig := <-terms:
		log.Printf("got %s", sig)
	}
	if sigterm == "exit" {
		log.Print("exiting at once")
		os.Exit(0)
	}
	// Keep serving while the load balancers take the task out, then stop
	// accepting and finish what is in flight.
	time.Sleep(drain)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Print("drained")
	return nil
}
