"""heavy_queries: classify SQL queries as heavy before they run; recall gate and ONNX serving."""
