"""The ROOT files: synthetic ones in the 2020 GamGam format, checked reading, and the real files' download."""
