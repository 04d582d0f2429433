/* Everything Python reaches through cffi (see the *.cdef files). */
#ifndef ARTGC_API_H
#define ARTGC_API_H
#include "uffd.h"
#include "fault.h"
#include "probe.h"
#include "fastpath.h"
#include "heap_api.h"
#include "workloads/workloads.h"
#include "testing.h"
#endif
