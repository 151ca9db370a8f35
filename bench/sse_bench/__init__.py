"""The parts of the SSE benchmark (``bench/sse.py``): its children, measurements and report."""
