// Package docker is meshsim's docker runtime: the fakes, the tasks ECS
// starts and their sidecars run as containers on a Docker network made for
// the run, through testcontainers-go.
//
// Nothing is pulled from a registry. One image, built locally FROM scratch
// with the static meshsim binary and tagged by the binary's content hash
// (EnsureImage), runs every role: "meshsim container fakes" (the ECS, Cloud
// Map and App Mesh endpoint and the xDS control plane, LocalStack-style),
// "meshsim container app" and "meshsim container grpc" (the sample HTTP
// and gRPC services) and "meshsim container sidecar" (the embedded
// sidecar). An Envoy image is used for sidecars only
// when the engine already has it.
//
// The pieces:
//
//   - StartWorld, on the host, makes the run's network, starts the fakes'
//     container (which holds no Docker socket) and publishes its API port
//     on 127.0.0.1, so that the engine talks to it with the same
//     aws-sdk-go-v2 clients as in process; then it serves the fakes'
//     control channel (control.go) with a Runtime in this process, and
//     beats: orphaned fakes stop themselves, and the tasks with them.
//   - Runtime, in the meshsim process on the host, implements ecs.Runtime:
//     each task is a container per task-definition container; the first
//     owns the task's network namespace and address on the run network,
//     the others (the sidecar) share it, as on an awsvpc task. It runs the
//     task definition's health checks (meshsim's images: against the
//     task's address; users' images: by the engine, in the container) and
//     reports every container exit, so ECS replaces a task that died.
//     Every container runs without capabilities, non-root for meshsim's
//     image, within memory and pids limits.
//   - Faults kills, stops, pauses and disconnects task containers, found by
//     their labels, from any process that reaches the engine.
//   - Clean removes what a run left behind, found by its labels.
//
// Every container and network carries the labels LabelRun, LabelRole and,
// for tasks, LabelService, LabelVersion, LabelTask and LabelContainer;
// names carry the run id too, so runs never collide.
//
// testcontainers-go's Ryuk reaper is never used (it would be pulled from
// Docker Hub): Connect sets TESTCONTAINERS_RYUK_DISABLED before the first
// testcontainers call, and meshsim removes what it started itself.
package docker
