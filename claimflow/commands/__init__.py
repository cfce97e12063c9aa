"""The `claimflow` command and what it runs beside a batch: the CLI (`cli`), one live run per
folder and a clean stop (`runlock`), where the batch stands (`status`, `statusview`), the report
(`report`), the planner (`plan`), the setup checks (`doctor`), the generated configuration
table (`configdoc`)."""
