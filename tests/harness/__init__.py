"""What the tests run claimflow against, each a real part on loopback or in a folder: a media
server that injects faults (faultserver), the bundled model behind an OpenAI-compatible server
(llmserver), an HTTP proxy that asks for a password (httpproxy), a single-node SLURM
(slurmcluster), headless Chromium (browser), and files in the shapes real ones have (feeds,
wildshapes)."""
