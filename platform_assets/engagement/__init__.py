"""engagement: each month, score the engagement of new customers. Its wiring is in this
package's modules (definitions.py gathers them); its plain logic in logic/, free of dagster."""
