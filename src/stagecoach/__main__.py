from stagecoach.cli import main

main()
