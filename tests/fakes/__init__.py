"""Fakes of outside services for tests: real protocols on loopback, nothing leaves the machine."""
