/* SPDX-License-Identifier: GPL-2.0 */
/*
 * estack VMA layer (vma.c): the callbacks of an arena's mapping.
 *
 * Copyright (C) 2026 The estack authors
 */
#ifndef _ESTACK_VMA_H
#define _ESTACK_VMA_H

#include "move.h"

int estack_vma_mmap(struct estack_ctx *ctx, struct vm_area_struct *vma);
int estack_vma_init(void);
void estack_vma_exit(void);

#endif /* _ESTACK_VMA_H */
