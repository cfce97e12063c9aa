"""The LLM behind one interface: providers, schema-valid JSON, retries, the response cache and
the stop on a refused key (`client`), the bundled model's runtime in a child process (`local`),
the request rate shared by every process (`ratelimit`)."""
