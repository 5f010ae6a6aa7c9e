"""The supervisor-coder agent: its loop, its trials, its prompts, the scripted stand-ins and the sandbox."""
