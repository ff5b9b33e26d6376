//go:build unix

package cdp

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts cmd in its own process group, so that Close can
// stop Chromium's helper processes (renderer, GPU, zygote) with it.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killProcessGroup kills the process group cmd leads.
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		cmd.Process.Kill()
	}
}
