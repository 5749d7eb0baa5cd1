@ECHO OFF
REM Example post-install script (Windows). It runs inside the activated environment,
REM in the folder of mambaboot.toml. A non-zero exit stops mambaboot (exit code 8); the next
REM run resumes at this script.
ECHO Environment: %CONDA_PREFIX%
WHERE python || EXIT /B 1
python --version || EXIT /B 1
WHERE conda
WHERE mamba
REM Install more packages with the environment's own tools, for example:
REM   CALL mamba install -y -c conda-forge numpy
EXIT /B 0
