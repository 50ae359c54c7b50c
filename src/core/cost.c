/*
 * cost.c - the default cycle costs.
 *
 * The figures, their sources and their derivations live with the machine
 * profiles (machine.c) and in docs/cost-model.md. The defaults are the
 * default profile's costs, so there is one copy of every figure.
 */
#include "cost.h"
#include "machine.h"

void cost_defaults(struct cost_model *c)
{
	size_t n;

	*c = machine_profiles(&n)[0].cost;
}
