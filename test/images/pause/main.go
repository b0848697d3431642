// Command pause blocks until it is asked to stop. It is the pod sandbox image and the
// workload image of the test clusters: a static binary, so the image needs nothing else.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
