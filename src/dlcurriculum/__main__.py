from dlcurriculum.cli import main

main()
