"""The small core every stage shares: the configuration (`config`: read and validated;
`settings`: its typed view, result against runtime), where a batch's files live (`layout`),
atomic writes (`atomic`), job logging with secrets masked (`logs`), the bundled models (`models`)."""
