"""Helpers the tests share: loopback fake servers, real subprocesses, copied workdirs."""
