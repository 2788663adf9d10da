// SPDX-License-Identifier: GPL-2.0
/*
 * estack tracepoints: the one place that instantiates them (trace.h).
 *
 * Copyright (C) 2026 The estack authors
 */

#define CREATE_TRACE_POINTS
#include "trace.h"
